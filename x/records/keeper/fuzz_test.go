package keeper_test

import (
	"testing"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/records/types"
)

// FuzzRecordsHandlers drives the x/records message handlers with fuzzed
// fields against the keeper fixture (alice's records, consents and
// providers, as in setup): any signer of the cast, any class, purpose, URI,
// hash, envelope, epoch and record id. A handler must return an error or
// succeed, never panic (each input runs in a cache context of the same
// state, thrown away after); a created record is
// stored with the hash it was given and its lineage set. Inputs do not see
// each other's writes, so a crash reproduces from its input alone.
func FuzzRecordsHandlers(f *testing.F) {
	base := setup(f)
	e := tk.Entry("lab-result", "seed")
	f.Add(uint8(0), uint8(2), uint8(0), "lab-result", "TREAT", e.StorageUri, e.ContentHash, e.KeyEnvelope, e.Size_, e.KeyEpoch, uint64(1))
	f.Add(uint8(1), uint8(0), uint8(0), "lab-result", "PATRQT", e.StorageUri, e.ContentHash, e.KeyEnvelope, e.Size_, e.KeyEpoch, uint64(1))
	f.Add(uint8(2), uint8(4), uint8(0), "lab-result", "TREAT", "", []byte(nil), []byte(nil), uint64(0), uint64(0), uint64(1))
	f.Add(uint8(3), uint8(0), uint8(0), "", "", "", []byte(nil), []byte(nil), uint64(0), uint64(0), uint64(1))
	f.Fuzz(func(t *testing.T, op, signer, patient uint8, class, purpose, uri string, hash, envelope []byte, size, epoch, id uint64) {
		ctx, _ := base.Ctx.CacheContext()
		who := func(i uint8) string { return tk.Address(roles[int(i)%len(roles)]) }
		entry := types.RecordEntry{DataClass: class, FhirResourceType: "Observation", ContentHash: hash, Size_: size, StorageUri: uri, KeyEnvelope: envelope, KeyEpoch: epoch}
		var err error
		switch op % 4 {
		case 0:
			var resp *types.MsgCreateRecordsResponse
			resp, err = base.RecordsMsg.CreateRecords(ctx, &types.MsgCreateRecords{Author: who(signer), Patient: who(patient), Purpose: purpose, Entries: []types.RecordEntry{entry}})
			if err == nil {
				r, gerr := base.Records.GetRecord(ctx, resp.Ids[0])
				if gerr != nil || string(r.ContentHash) != string(hash) || r.RootId != r.Id || r.Version != 1 {
					t.Fatalf("created record %d: %+v %v", resp.Ids[0], r, gerr)
				}
			}
		case 1:
			var resp *types.MsgAmendRecordResponse
			resp, err = base.RecordsMsg.AmendRecord(ctx, &types.MsgAmendRecord{Author: who(signer), RecordId: id, Purpose: purpose, Entry: entry})
			if err == nil {
				r, gerr := base.Records.GetRecord(ctx, resp.Id)
				if gerr != nil || r.Supersedes != id || r.Version < 2 {
					t.Fatalf("amendment %d of %d: %+v %v", resp.Id, id, r, gerr)
				}
			}
		case 2:
			_, err = base.RecordsMsg.AccessRecord(ctx, &types.MsgAccessRecord{Accessor: who(signer), RecordId: id, Purpose: purpose})
		case 3:
			_, err = base.RecordsMsg.EraseRecord(ctx, &types.MsgEraseRecord{Signer: who(signer), RecordId: id})
		}
		_ = err // refusals are expected; only panics and broken results fail
	})
}
