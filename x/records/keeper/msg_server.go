package keeper

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/internal/addrs"
	"github.com/healthd-chain/healthd/internal/modkit"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	"github.com/healthd-chain/healthd/x/records/types"
)

type msgServer struct {
	Keeper
}

var _ types.MsgServer = msgServer{}

// NewMsgServerImpl returns the Msg service of x/records.
func NewMsgServerImpl(k Keeper) types.MsgServer { return msgServer{Keeper: k} }

// Every handler follows the same order: decode addresses → authorize the signer →
// stateless checks → stateful checks → write → emit a typed event → respond.

// CreateRecords commits a batch for one patient, all or nothing: every entry is
// checked before the first is written.
func (s msgServer) CreateRecords(ctx context.Context, msg *types.MsgCreateRecords) (*types.MsgCreateRecordsResponse, error) {
	author, err := s.decode(msg.Author, "author")
	if err != nil {
		return nil, err
	}
	patient := author
	if msg.Patient != "" {
		if patient, err = s.decode(msg.Patient, "patient"); err != nil {
			return nil, err
		}
	}
	// Addresses are stored in canonical (lower-case) form, so that string
	// comparisons elsewhere are sound.
	patientStr, authorStr := s.canonical(patient), s.canonical(author)
	params, err := s.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if err := msg.Validate(params); err != nil {
		return nil, err
	}
	if err := s.requirePatient(ctx, patient); err != nil {
		return nil, err
	}
	// The write rule and the class key epoch depend on the class, not the
	// entry, and nothing is written before every entry passed: each class is
	// checked once per message (a batch is usually of one class), with the
	// same answers and errors as checking every entry.
	epochs := map[string]uint64{}
	for i, e := range msg.Entries {
		current, checked := epochs[e.DataClass]
		if !checked {
			if err := s.authorizeWrite(ctx, patient, author, e.DataClass, msg.Purpose); err != nil {
				return nil, errorsmod.Wrapf(err, "entry %d", i)
			}
			if current, err = s.consent.ClassKeyEpoch(ctx, patient, e.DataClass); err != nil {
				return nil, err
			}
			epochs[e.DataClass] = current
		}
		if err := requireEpoch(e, current); err != nil {
			return nil, errorsmod.Wrapf(err, "entry %d", i)
		}
		if err := s.requireNewHash(ctx, e.ContentHash); err != nil {
			return nil, errorsmod.Wrapf(err, "entry %d", i)
		}
	}

	ids := make([]uint64, len(msg.Entries))
	for i, e := range msg.Entries {
		r, err := s.newRecord(ctx, patientStr, authorStr, e)
		if err != nil {
			return nil, err
		}
		if err := s.Records.Set(ctx, r.Id, r); err != nil {
			return nil, err
		}
		ids[i] = r.Id
		if err := emit(ctx, &types.EventRecordCreated{
			Id: r.Id, Patient: r.Patient, Author: r.Author, DataClass: r.DataClass, ContentHash: hex.EncodeToString(r.ContentHash),
		}); err != nil {
			return nil, err
		}
	}
	return &types.MsgCreateRecordsResponse{Ids: ids}, nil
}

// AmendRecord creates a new version of an active record; the old one is kept,
// marked superseded. The original author or the patient may amend; a provider
// author still needs a live write consent for the class.
func (s msgServer) AmendRecord(ctx context.Context, msg *types.MsgAmendRecord) (*types.MsgAmendRecordResponse, error) {
	author, err := s.decode(msg.Author, "author")
	if err != nil {
		return nil, err
	}
	old, err := s.GetRecord(ctx, msg.RecordId)
	if err != nil {
		return nil, err
	}
	patient, err := s.decode(old.Patient, "patient")
	if err != nil {
		return nil, err
	}
	oldAuthor, err := s.decode(old.Author, "author")
	if err != nil {
		return nil, err
	}
	if !oldAuthor.Equals(author) && !patient.Equals(author) {
		return nil, errorsmod.Wrapf(types.ErrUnauthorized, "only the original author or the patient may amend record %d", old.Id)
	}
	params, err := s.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if err := msg.Validate(params); err != nil {
		return nil, err
	}
	if old.Status != types.RECORD_STATUS_ACTIVE {
		return nil, errorsmod.Wrapf(types.ErrNotActive, "record %d is %s", old.Id, old.Status)
	}
	if msg.Entry.DataClass != old.DataClass {
		return nil, errorsmod.Wrapf(types.ErrClassChange, "record %d is %s", old.Id, old.DataClass)
	}
	if err := s.authorizeWrite(ctx, patient, author, old.DataClass, msg.Purpose); err != nil {
		return nil, err
	}
	current, err := s.consent.ClassKeyEpoch(ctx, patient, old.DataClass)
	if err != nil {
		return nil, err
	}
	if err := requireEpoch(msg.Entry, current); err != nil {
		return nil, err
	}
	if err := s.requireNewHash(ctx, msg.Entry.ContentHash); err != nil {
		return nil, err
	}

	r, err := s.newRecord(ctx, old.Patient, s.canonical(author), msg.Entry)
	if err != nil {
		return nil, err
	}
	r.Supersedes = old.Id
	if stampsLineage {
		if !old.HasLineage() {
			// the v2 migration and InitGenesis stamp every record: this is a
			// broken invariant, not a user error.
			return nil, fmt.Errorf("record %d has no root_id and version: the x/records 1 -> 2 migration did not run", old.Id)
		}
		r.RootId, r.Version = types.LineageOf(r.Id, &old)
	}
	old.Status = types.RECORD_STATUS_SUPERSEDED
	old.SupersededBy = r.Id
	if err := s.Records.Set(ctx, old.Id, old); err != nil {
		return nil, err
	}
	if err := s.Records.Set(ctx, r.Id, r); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventRecordAmended{
		Id: r.Id, Supersedes: old.Id, Patient: r.Patient, Author: r.Author, ContentHash: hex.EncodeToString(r.ContentHash),
		DataClass: r.DataClass,
	}); err != nil {
		return nil, err
	}
	return &types.MsgAmendRecordResponse{Id: r.Id}, nil
}

// EraseRecord erases a record and every other version of it (the records it
// supersedes and those that supersede it): each one's URI and key envelope
// leave state (the data key is gone: crypto-shredding), its hash stays as a
// tombstone, and an event per version tells vaults to delete the blob. The
// patient or a live delegate signs. At most types.MaxEraseVersions versions
// are erased per transaction; the response's more says when some remain.
func (s msgServer) EraseRecord(ctx context.Context, msg *types.MsgEraseRecord) (*types.MsgEraseRecordResponse, error) {
	signer, err := s.decode(msg.Signer, "signer")
	if err != nil {
		return nil, err
	}
	r, err := s.GetRecord(ctx, msg.RecordId)
	if err != nil {
		return nil, err
	}
	patient, err := s.decode(r.Patient, "patient")
	if err != nil {
		return nil, err
	}
	ok, err := s.consent.IsPatientOrLiveDelegate(ctx, patient, signer)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorsmod.Wrapf(types.ErrUnauthorized, "only the patient or a live delegate may erase record %d", r.Id)
	}
	versions, more, err := s.liveVersions(ctx, r)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, errorsmod.Wrapf(types.ErrRecordErased, "record %d and every version of it", r.Id)
	}

	resp := &types.MsgEraseRecordResponse{More: more}
	for _, v := range versions {
		v.Status = types.RECORD_STATUS_ERASED
		v.StorageUri = ""
		v.KeyEnvelope = nil
		if err := s.Records.Set(ctx, v.Id, v); err != nil {
			return nil, err
		}
		if err := emit(ctx, &types.EventRecordErased{Id: v.Id, Patient: v.Patient, ContentHash: hex.EncodeToString(v.ContentHash)}); err != nil {
			return nil, err
		}
		resp.ErasedIds = append(resp.ErasedIds, v.Id)
	}
	return resp, nil
}

// liveVersions returns the versions of r's amendment chain that are not
// erased yet, r first, then older ones, then newer ones: at most
// MaxEraseVersions of them, reading at most 4×MaxEraseVersions records. more
// is true when the chain goes on past either bound. Amending needs an active
// record, so a chain is a line: no version has two successors.
func (s msgServer) liveVersions(ctx context.Context, r types.Record) ([]types.Record, bool, error) {
	var out []types.Record
	reads := 0
	take := func(v types.Record) bool { // false: a bound is reached
		if v.Status != types.RECORD_STATUS_ERASED {
			if len(out) == types.MaxEraseVersions {
				return false
			}
			out = append(out, v)
		}
		return true
	}
	if !take(r) {
		return out, true, nil
	}
	for _, step := range []func(types.Record) uint64{
		func(v types.Record) uint64 { return v.Supersedes },
		func(v types.Record) uint64 { return v.SupersededBy },
	} {
		for next := step(r); next != 0; {
			reads++
			if reads > 4*types.MaxEraseVersions {
				return out, true, nil
			}
			v, err := s.GetRecord(ctx, next)
			if err != nil {
				return nil, false, err
			}
			if !take(v) {
				return out, true, nil
			}
			next = step(v)
		}
	}
	return out, false, nil
}

// AccessRecord applies the access rule for a read and, if allowed, stores an
// access receipt. The patient and the author (unless an inactive provider)
// need no consent; their reads get receipts too. Denied: a registered error, nothing stored.
func (s msgServer) AccessRecord(ctx context.Context, msg *types.MsgAccessRecord) (*types.MsgAccessRecordResponse, error) {
	accessor, err := s.decode(msg.Accessor, "accessor")
	if err != nil {
		return nil, err
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	r, err := s.GetRecord(ctx, msg.RecordId)
	if err != nil {
		return nil, err
	}
	if r.Status == types.RECORD_STATUS_ERASED {
		return nil, errorsmod.Wrapf(types.ErrRecordErased, "record %d", r.Id)
	}
	accessorStr := s.canonical(accessor)
	// One rule for every reader, the record's author included.
	decision, err := s.ReadDecision(ctx, accessor, r, msg.Purpose)
	if err != nil {
		return nil, err
	}
	if !decision.Allowed {
		return nil, errorsmod.Wrapf(types.ErrAccessDenied, "%s may not read record %d for %s: %s",
			accessorStr, r.Id, msg.Purpose, decision.Reason)
	}

	id, err := s.ReceiptSeq.Next(ctx)
	if err != nil {
		return nil, err
	}
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	receipt := types.AccessReceipt{
		Id: id, RecordId: r.Id, Patient: r.Patient, Accessor: accessorStr, Purpose: msg.Purpose,
		ConsentId: decision.ConsentID, Emergency: decision.Emergency, Time: sdkCtx.BlockTime(), Height: sdkCtx.BlockHeight(),
	}
	if err := s.Receipts.Set(ctx, id, receipt); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventRecordAccessed{
		ReceiptId: id, RecordId: r.Id, Patient: r.Patient, Accessor: accessorStr, Purpose: msg.Purpose,
		ConsentId: decision.ConsentID, DataClass: r.DataClass, ContentHash: hex.EncodeToString(r.ContentHash),
		Emergency: decision.Emergency,
	}); err != nil {
		return nil, err
	}
	return &types.MsgAccessRecordResponse{ReceiptId: id, ConsentId: decision.ConsentID}, nil
}

// UpdateParams replaces the parameters; governance only.
func (s msgServer) UpdateParams(ctx context.Context, msg *types.MsgUpdateParams) (*types.MsgUpdateParamsResponse, error) {
	authority, err := s.decode(msg.Authority, "authority")
	if err != nil {
		return nil, err
	}
	if err := modkit.RequireAuthority(s.addressCodec, s.authority, authority, types.ErrUnauthorized); err != nil {
		return nil, err
	}
	if err := msg.Params.Validate(); err != nil {
		return nil, err
	}
	if err := s.Params.Set(ctx, msg.Params); err != nil {
		return nil, err
	}
	return &types.MsgUpdateParamsResponse{}, nil
}

// authorizeWrite is the write rule: the author is the patient, or an active
// provider that CheckAccess allows to write this class for this purpose.
func (s msgServer) authorizeWrite(ctx context.Context, patient, author sdk.AccAddress, class, purpose string) error {
	if patient.Equals(author) {
		return nil
	}
	if active, err := s.providers.IsActive(ctx, author); err != nil {
		return err
	} else if !active {
		return errorsmod.Wrapf(types.ErrUnauthorized, "%s is neither the patient nor an active provider", author)
	}
	d, err := s.consent.CheckAccess(ctx, patient, author, class, consenttypes.PermissionWrite, purpose, sdk.UnwrapSDKContext(ctx).BlockTime(), nil)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return errorsmod.Wrapf(types.ErrAccessDenied, "no write consent for %s, purpose %s: %s", class, purpose, d.Reason)
	}
	return nil
}

// requireEpoch refuses a new record whose data key is wrapped under a class
// key other than the patient's current one (current) for its class: after a
// revocation the old key is in the revoked grantee's hands.
func requireEpoch(e types.RecordEntry, current uint64) error {
	if e.KeyEpoch != current {
		return errorsmod.Wrapf(types.ErrStaleKeyEpoch, "%s key epoch %d, the patient's current epoch is %d "+
			"(a consent was revoked: the patient's new key grant is needed)", e.DataClass, e.KeyEpoch, current)
	}
	return nil
}

// requireNewHash refuses a content hash that any record, of any author and
// patient, active or erased, has committed. A blob in a vault is bound to the
// one record that committed its hash: were a second record allowed, its author
// could take a receipt on its own record and download the first one's blob, or
// keep it alive after the patient erased it.
func (s msgServer) requireNewHash(ctx context.Context, h []byte) error {
	id, err := s.Records.Indexes.ByHash.Get(ctx, h)
	switch {
	case errors.Is(err, collections.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return errorsmod.Wrapf(types.ErrHashCommitted, "%x is committed by record %d", h, id)
}

func (s msgServer) requirePatient(ctx context.Context, patient sdk.AccAddress) error {
	ok, err := s.consent.IsPatient(ctx, patient)
	if err != nil {
		return err
	}
	if !ok {
		return errorsmod.Wrapf(types.ErrPatientNotFound, "%s", patient)
	}
	return nil
}

// newRecord builds an active record with the next id, at this block.
func (s msgServer) newRecord(ctx context.Context, patient, author string, e types.RecordEntry) (types.Record, error) {
	id, err := s.RecordSeq.Next(ctx)
	if err != nil {
		return types.Record{}, err
	}
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	r := types.Record{
		Id: id, Patient: patient, Author: author, DataClass: e.DataClass, FhirResourceType: e.FhirResourceType,
		ContentHash: e.ContentHash, Size_: e.Size_, StorageUri: e.StorageUri, KeyEnvelope: e.KeyEnvelope,
		KeyEpoch: e.KeyEpoch, Status: types.RECORD_STATUS_ACTIVE, CreatedAt: sdkCtx.BlockTime(), Height: sdkCtx.BlockHeight(),
	}
	if stampsLineage {
		r.RootId, r.Version = types.LineageOf(id, nil)
	}
	return r, nil
}

// canonical returns the lower-case bech32 form of a decoded address (encoding
// bytes that were just decoded cannot fail).
func (s msgServer) canonical(addr sdk.AccAddress) string {
	str, _ := s.addressCodec.BytesToString(addr)
	return str
}

// decode turns a bech32 address into bytes, or returns ErrInvalidAddress.
func (s msgServer) decode(addr, field string) (sdk.AccAddress, error) {
	return addrs.DecodeField(s.addressCodec, addr, field, types.ErrInvalidAddress)
}

func emit(ctx context.Context, ev sdk.Msg) error { return modkit.Emit(ctx, ev) }
