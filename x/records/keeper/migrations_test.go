package keeper_test

import (
	"testing"

	sdk "github.com/cosmos/cosmos-sdk/types"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/records/keeper"
	"github.com/healthd-chain/healthd/x/records/types"
)

// lineageState builds records with amendment chains across what the migration
// reads as separate batches: record 1 amended three times with originals in
// between, one erased chain, and returns every record as the handlers wrote it.
func lineageState(t *testing.T) (*tk.RecordsFixture, map[uint64]types.Record) {
	t.Helper()
	f := setup(t) // record 1 by hospital
	latest := uint64(1)
	for i, seed := range []string{"a1", "a2", "a3"} {
		if _, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
			Author: tk.Address(alice), Purpose: "PATRQT", Entries: []types.RecordEntry{tk.Entry("lab-result", "solo"+seed)},
		}); err != nil {
			t.Fatal(err)
		}
		resp, err := f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(hospital), RecordId: latest, Purpose: "TREAT", Entry: tk.Entry("lab-result", seed)})
		if err != nil {
			t.Fatalf("amendment %d: %v", i, err)
		}
		latest = resp.Id
	}
	erased, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(alice), Purpose: "PATRQT", Entries: []types.RecordEntry{tk.Entry("lab-result", "e1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	next, err := f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(alice), RecordId: erased.Ids[0], Purpose: "PATRQT", Entry: tk.Entry("lab-result", "e2")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: next.Id}); err != nil {
		t.Fatal(err)
	}
	want := map[uint64]types.Record{}
	if err := f.Records.Records.Walk(f.Ctx, nil, func(id uint64, r types.Record) (bool, error) {
		want[id] = r
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}
	return f, want
}

// clearLineage writes every record back without root_id and version, as
// release 1 stored them.
func clearLineage(t *testing.T, f *tk.RecordsFixture, records map[uint64]types.Record) {
	t.Helper()
	for id, r := range records {
		r.RootId, r.Version = 0, 0
		if err := f.Records.Records.Set(f.Ctx, id, r); err != nil {
			t.Fatal(err)
		}
	}
}

func assertRecords(t *testing.T, f *tk.RecordsFixture, want map[uint64]types.Record) {
	t.Helper()
	for id, w := range want {
		got, err := f.Records.Records.Get(f.Ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.RootId != w.RootId || got.Version != w.Version || got.Status != w.Status || got.Supersedes != w.Supersedes {
			t.Errorf("record %d after the migration: root %d version %d, want root %d version %d", id, got.RootId, got.Version, w.RootId, w.Version)
		}
	}
}

// TestHandlersStampLineage: an original is version 1 of itself; each
// amendment keeps the root and counts up.
func TestHandlersStampLineage(t *testing.T) {
	_, records := lineageState(t)
	// record 1 was amended by 3, 5 and 7 (2, 4 and 6 are originals of alice)
	for id, want := range map[uint64][2]uint64{1: {1, 1}, 2: {2, 1}, 3: {1, 2}, 5: {1, 3}, 7: {1, 4}, 8: {8, 1}, 9: {8, 2}} {
		r := records[id]
		if r.RootId != want[0] || r.Version != want[1] {
			t.Errorf("record %d: root %d version %d, want %v", id, r.RootId, r.Version, want)
		}
	}
}

// TestMigrate1to2FillsLineage: the v2 migration gives records written without
// root_id and version exactly what the handlers give new ones, whatever the
// batch size, and running it again changes nothing.
func TestMigrate1to2FillsLineage(t *testing.T) {
	for _, batch := range []int{1, 2, 3, 10_000} {
		f, want := lineageState(t)
		clearLineage(t, f, want)
		n, err := f.Records.FillLineage(f.Ctx, batch)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if n != len(want) {
			t.Errorf("batch %d: filled %d of %d records", batch, n, len(want))
		}
		assertRecords(t, f, want)
		if n, err := f.Records.FillLineage(f.Ctx, batch); err != nil || n != 0 {
			t.Errorf("batch %d: a second run filled %d (%v)", batch, n, err)
		}
	}

	// and through the registered entry point
	f, want := lineageState(t)
	clearLineage(t, f, want)
	if err := keeper.NewMigrator(f.Records).Migrate1to2(sdk.UnwrapSDKContext(f.Ctx)); err != nil {
		t.Fatal(err)
	}
	assertRecords(t, f, want)
}

// TestGenesisLineage: a genesis exported before upgrade v2 (no root_id or
// version) is accepted and stamped on import; a stamped one must follow the
// amendment links.
func TestGenesisLineage(t *testing.T) {
	f, want := lineageState(t)
	exported, err := f.Records.ExportGenesis(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := f.Records.ExportGenesis(f.Ctx)
	for i := range old.Records {
		old.Records[i].RootId, old.Records[i].Version = 0, 0
	}
	if err := old.Validate(tk.AddressCodec); err != nil {
		t.Fatalf("a genesis without lineage is refused: %v", err)
	}
	g := tk.NewRecordsFixture(t)
	if err := g.Records.InitGenesis(g.Ctx, old); err != nil {
		t.Fatal(err)
	}
	assertRecords(t, g, want)
	again, _ := g.Records.ExportGenesis(g.Ctx)
	if string(f.Codec.MustMarshalJSON(exported)) != string(g.Codec.MustMarshalJSON(again)) {
		t.Fatal("a genesis imported without lineage does not export as the chain that wrote it")
	}

	bad := map[string]func(gs *types.GenesisState){
		"wrong version":          func(gs *types.GenesisState) { gs.Records[2].Version = 3 },
		"wrong root":             func(gs *types.GenesisState) { gs.Records[2].RootId = 3 },
		"original not its root":  func(gs *types.GenesisState) { gs.Records[1].RootId = 1 },
		"unstamped predecessor":  func(gs *types.GenesisState) { gs.Records[0].RootId, gs.Records[0].Version = 0, 0 },
		"version without a root": func(gs *types.GenesisState) { gs.Records[1].RootId = 0 },
		"supersedes a later id": func(gs *types.GenesisState) {
			gs.Records[0].Supersedes, gs.Records[2].SupersededBy = 3, 1
		},
	}
	for name, mod := range bad {
		gs, _ := f.Records.ExportGenesis(f.Ctx)
		mod(gs)
		if err := gs.Validate(tk.AddressCodec); err == nil {
			t.Errorf("genesis with %s accepted", name)
		}
	}
}
