package types

import (
	"cosmossdk.io/core/address"
	errorsmod "cosmossdk.io/errors"

	"github.com/healthd-chain/healthd/internal/addrs"
)

// DefaultGenesis returns the default genesis: default params, no records.
func DefaultGenesis() *GenesisState {
	return &GenesisState{Params: DefaultParams(), Records: []Record{}, Receipts: []AccessReceipt{}, NextRecordId: 1, NextReceiptId: 1}
}

// Validate checks the genesis state: params; records (valid entries and
// addresses, ids unique and below next_record_id, supersession links consistent
// and pointing to earlier ids, root_id and version unset or following the
// links, erased records without URI or envelope); receipts (ids unique and below
// next_receipt_id, pointing at an existing record of the same patient).
func (gs GenesisState) Validate(ac address.Codec) error {
	if err := gs.Params.Validate(); err != nil {
		return err
	}
	if gs.NextRecordId == 0 || gs.NextReceiptId == 0 {
		return errorsmod.Wrap(ErrInvalidGenesis, "next ids must be at least 1")
	}
	records := make(map[uint64]Record, len(gs.Records))
	hashes := make(map[string]uint64, len(gs.Records))
	for _, r := range gs.Records {
		if other, dup := hashes[string(r.ContentHash)]; dup {
			return errorsmod.Wrapf(ErrInvalidGenesis, "records %d and %d commit the same content hash", other, r.Id)
		}
		hashes[string(r.ContentHash)] = r.Id
		if r.Id == 0 || r.Id >= gs.NextRecordId {
			return errorsmod.Wrapf(ErrInvalidGenesis, "record id %d not in [1, next_record_id %d)", r.Id, gs.NextRecordId)
		}
		if _, dup := records[r.Id]; dup {
			return errorsmod.Wrapf(ErrInvalidGenesis, "record %d listed twice", r.Id)
		}
		records[r.Id] = r
		for _, a := range []string{r.Patient, r.Author} {
			if _, err := addrs.Decode(ac, a); err != nil {
				return errorsmod.Wrapf(ErrInvalidGenesis, "record %d: address %q", r.Id, a)
			}
		}
		entry := RecordEntry{
			DataClass: r.DataClass, FhirResourceType: r.FhirResourceType, ContentHash: r.ContentHash,
			Size_: r.Size_, StorageUri: r.StorageUri, KeyEnvelope: r.KeyEnvelope, KeyEpoch: r.KeyEpoch,
		}
		switch r.Status {
		case RECORD_STATUS_ACTIVE, RECORD_STATUS_SUPERSEDED:
			if err := entry.Validate(gs.Params); err != nil {
				return errorsmod.Wrapf(err, "record %d", r.Id)
			}
		case RECORD_STATUS_ERASED:
			if r.StorageUri != "" || len(r.KeyEnvelope) != 0 || len(r.ContentHash) != HashLength {
				return errorsmod.Wrapf(ErrInvalidGenesis, "erased record %d must keep only its hash", r.Id)
			}
		default:
			return errorsmod.Wrapf(ErrInvalidGenesis, "record %d: status %d", r.Id, r.Status)
		}
	}
	for _, r := range gs.Records {
		var prev *Record
		if r.Supersedes != 0 {
			old, ok := records[r.Supersedes]
			if !ok || old.SupersededBy != r.Id || old.Patient != r.Patient {
				return errorsmod.Wrapf(ErrInvalidGenesis, "record %d supersedes %d, which does not point back", r.Id, r.Supersedes)
			}
			if r.Supersedes >= r.Id {
				return errorsmod.Wrapf(ErrInvalidGenesis, "record %d supersedes the later record %d", r.Id, r.Supersedes)
			}
			prev = &old
		}
		// root_id and version: either unset (a genesis exported before upgrade
		// v2; InitGenesis fills them) or consistent with the chain of amendments.
		if r.HasLineage() {
			root, version := LineageOf(r.Id, prev)
			if prev != nil && !prev.HasLineage() || r.RootId != root || r.Version != version {
				return errorsmod.Wrapf(ErrInvalidGenesis, "record %d: root_id %d and version %d do not follow its amendment chain", r.Id, r.RootId, r.Version)
			}
		}
		// superseded records name their successor, active ones have none, erased
		// ones may (an erased old version) or may not.
		if r.Status == RECORD_STATUS_SUPERSEDED && r.SupersededBy == 0 || r.Status == RECORD_STATUS_ACTIVE && r.SupersededBy != 0 {
			return errorsmod.Wrapf(ErrInvalidGenesis, "record %d: status %s with superseded_by %d", r.Id, r.Status, r.SupersededBy)
		}
		if r.SupersededBy != 0 {
			next, ok := records[r.SupersededBy]
			if !ok || next.Supersedes != r.Id {
				return errorsmod.Wrapf(ErrInvalidGenesis, "record %d superseded by %d, which does not point back", r.Id, r.SupersededBy)
			}
		}
	}
	seen := make(map[uint64]bool, len(gs.Receipts))
	for _, rc := range gs.Receipts {
		if rc.Id == 0 || rc.Id >= gs.NextReceiptId || seen[rc.Id] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "receipt id %d duplicated or not in [1, next_receipt_id %d)", rc.Id, gs.NextReceiptId)
		}
		seen[rc.Id] = true
		r, ok := records[rc.RecordId]
		if !ok || r.Patient != rc.Patient {
			return errorsmod.Wrapf(ErrInvalidGenesis, "receipt %d: record %d of patient %s does not exist", rc.Id, rc.RecordId, rc.Patient)
		}
		if _, err := addrs.Decode(ac, rc.Accessor); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "receipt %d: accessor %q", rc.Id, rc.Accessor)
		}
		if err := ValidatePurpose(rc.Purpose); err != nil {
			return errorsmod.Wrapf(err, "receipt %d", rc.Id)
		}
	}
	return nil
}
