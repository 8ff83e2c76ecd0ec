package keeper_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cosmos/cosmos-sdk/types/query"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	"github.com/healthd-chain/healthd/x/records/types"
)

func TestQueries(t *testing.T) {
	// given records of two classes, one amended and one erased, and two reads
	f := setup(t) // record 1: lab-result by hospital
	if _, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(alice), Purpose: "PATRQT",
		Entries: []types.RecordEntry{tk.Entry("allergy", "a1"), tk.Entry("lab-result", "l2")},
	}); err != nil { // 2, 3
		t.Fatal(err)
	}
	if _, err := f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(alice), RecordId: 3, Purpose: "PATRQT", Entry: tk.Entry("lab-result", "l2v2")}); err != nil { // 4
		t.Fatal(err)
	}
	if _, err := f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: 2}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{1, 4} {
		if _, err := f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(clinic), RecordId: id, Purpose: "TREAT"}); err != nil {
			t.Fatal(err)
		}
	}

	ids := func(resp *types.QueryRecordsResponse, err error) []uint64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, r := range resp.Records {
			out = append(out, r.Id)
		}
		return out
	}
	byPatient := func(class string, st types.RecordStatus) []uint64 {
		return ids(f.RecordsQuery.RecordsByPatient(f.Ctx, &types.QueryRecordsByPatientRequest{Patient: tk.Address(alice), DataClass: class, Status: st}))
	}
	for _, c := range []struct {
		name string
		got  []uint64
		want []uint64
	}{
		{"all", byPatient("", 0), []uint64{1, 2, 3, 4}},
		{"lab-result", byPatient("lab-result", 0), []uint64{1, 3, 4}},
		{"active", byPatient("", types.RECORD_STATUS_ACTIVE), []uint64{1, 4}},
		{"active lab-result", byPatient("lab-result", types.RECORD_STATUS_ACTIVE), []uint64{1, 4}},
		{"superseded lab-result", byPatient("lab-result", types.RECORD_STATUS_SUPERSEDED), []uint64{3}},
		{"erased", byPatient("", types.RECORD_STATUS_ERASED), []uint64{2}},
		{"by author hospital", ids(f.RecordsQuery.RecordsByAuthor(f.Ctx, &types.QueryRecordsByAuthorRequest{Author: tk.Address(hospital)})), []uint64{1}},
		{"by author alice", ids(f.RecordsQuery.RecordsByAuthor(f.Ctx, &types.QueryRecordsByAuthorRequest{Author: tk.Address(alice)})), []uint64{2, 3, 4}},
	} {
		if !equal(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}

	// a status filter pages over kept records only: one active record per
	// page, skipping the erased (2) and superseded (3) ones, with their total
	first, err := f.RecordsQuery.RecordsByPatient(f.Ctx, &types.QueryRecordsByPatientRequest{
		Patient: tk.Address(alice), Status: types.RECORD_STATUS_ACTIVE, Pagination: &query.PageRequest{Limit: 1, CountTotal: true},
	})
	if err != nil || len(first.Records) != 1 || first.Records[0].Id != 1 || first.Pagination.NextKey == nil || first.Pagination.Total != 2 {
		t.Fatalf("first active page = %+v, %v", first, err)
	}
	second, err := f.RecordsQuery.RecordsByPatient(f.Ctx, &types.QueryRecordsByPatientRequest{
		Patient: tk.Address(alice), Status: types.RECORD_STATUS_ACTIVE, Pagination: &query.PageRequest{Key: first.Pagination.NextKey, Limit: 1},
	})
	if err != nil || len(second.Records) != 1 || second.Records[0].Id != 4 {
		t.Fatalf("second active page = %+v, %v", second, err)
	}
	if ids := byPatient("allergy", types.RECORD_STATUS_ACTIVE); len(ids) != 0 {
		t.Errorf("active allergy: %v, want none (the only allergy record is erased)", ids)
	}

	// by hash
	e := tk.Entry("lab-result", "r1")
	byHash, err := f.RecordsQuery.RecordByHash(f.Ctx, &types.QueryRecordByHashRequest{ContentHash: hex.EncodeToString(e.ContentHash)})
	if err != nil || byHash.Record.Id != 1 {
		t.Errorf("by hash: %+v, %v", byHash, err)
	}

	// many hashes in one query, in order: found, not committed, found
	unknown := hex.EncodeToString(make([]byte, types.HashLength))
	many, err := f.RecordsQuery.RecordsByHashes(f.Ctx, &types.QueryRecordsByHashesRequest{ContentHashes: []string{
		hex.EncodeToString(e.ContentHash), unknown, hex.EncodeToString(e.ContentHash),
	}})
	if err != nil || len(many.Results) != 3 || many.Results[0].Record == nil || many.Results[0].Record.Id != 1 ||
		many.Results[1].Record != nil || many.Results[1].ContentHash != unknown || many.Results[2].Record.Id != 1 {
		t.Errorf("by hashes: %+v, %v", many, err)
	}

	// receipts, by patient (paginated) and by record
	page, err := f.RecordsQuery.ReceiptsByPatient(f.Ctx, &types.QueryReceiptsByPatientRequest{Patient: tk.Address(alice), Pagination: &query.PageRequest{Limit: 1}})
	if err != nil || len(page.Receipts) != 1 || page.Receipts[0].RecordId != 1 || page.Pagination.NextKey == nil {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page2, err := f.RecordsQuery.ReceiptsByPatient(f.Ctx, &types.QueryReceiptsByPatientRequest{Patient: tk.Address(alice), Pagination: &query.PageRequest{Key: page.Pagination.NextKey}})
	if err != nil || len(page2.Receipts) != 1 || page2.Receipts[0].RecordId != 4 {
		t.Fatalf("second page = %+v, %v", page2, err)
	}
	byRecord, err := f.RecordsQuery.ReceiptsByRecord(f.Ctx, &types.QueryReceiptsByRecordRequest{RecordId: 4})
	if err != nil || len(byRecord.Receipts) != 1 || byRecord.Receipts[0].Accessor != tk.Address(clinic) {
		t.Fatalf("by record = %+v, %v", byRecord, err)
	}

	// errors map to gRPC codes
	for _, c := range []struct {
		err  error
		want codes.Code
	}{
		{func() error { _, err := f.RecordsQuery.Record(f.Ctx, &types.QueryRecordRequest{Id: 99}); return err }(), codes.NotFound},
		{func() error { _, err := f.RecordsQuery.Receipt(f.Ctx, &types.QueryReceiptRequest{Id: 99}); return err }(), codes.NotFound},
		{func() error {
			_, err := f.RecordsQuery.RecordByHash(f.Ctx, &types.QueryRecordByHashRequest{ContentHash: "zz"})
			return err
		}(), codes.InvalidArgument},
		{func() error {
			_, err := f.RecordsQuery.RecordsByHashes(f.Ctx, &types.QueryRecordsByHashesRequest{ContentHashes: []string{"zz"}})
			return err
		}(), codes.InvalidArgument},
		{func() error {
			_, err := f.RecordsQuery.RecordsByHashes(f.Ctx, &types.QueryRecordsByHashesRequest{ContentHashes: make([]string, types.MaxQueryIDs+1)})
			return err
		}(), codes.InvalidArgument},
		{func() error {
			_, err := f.RecordsQuery.RecordsByPatient(f.Ctx, &types.QueryRecordsByPatientRequest{Patient: tk.Address(alice), DataClass: "x"})
			return err
		}(), codes.InvalidArgument},
		{func() error {
			_, err := f.RecordsQuery.RecordsByPatient(f.Ctx, &types.QueryRecordsByPatientRequest{Patient: "bad"})
			return err
		}(), codes.InvalidArgument},
	} {
		if got := status.Code(c.err); got != c.want {
			t.Errorf("code %s, want %s (%v)", got, c.want, c.err)
		}
	}
}

func TestGenesisRoundTripAndValidation(t *testing.T) {
	f := setup(t)
	if _, err := f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(alice), RecordId: 1, Purpose: "PATRQT", Entry: tk.Entry("lab-result", "v2")}); err != nil {
		t.Fatal(err)
	}
	// a record of its own, erased (erasing record 1 would erase its new version 2 too)
	solo, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(alice), Purpose: "PATRQT", Entries: []types.RecordEntry{tk.Entry("lab-result", "solo")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: solo.Ids[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(clinic), RecordId: 2, Purpose: "TREAT"}); err != nil {
		t.Fatal(err)
	}
	exported, err := f.Records.ExportGenesis(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := exported.Validate(tk.AddressCodec); err != nil {
		t.Fatalf("export does not validate: %v", err)
	}
	g := tk.NewRecordsFixture(t)
	if err := g.Records.InitGenesis(g.Ctx, exported); err != nil {
		t.Fatal(err)
	}
	again, _ := g.Records.ExportGenesis(g.Ctx)
	if !bytes.Equal(f.Codec.MustMarshalJSON(exported), g.Codec.MustMarshalJSON(again)) {
		t.Fatal("export differs after import")
	}
	resp, err := g.RecordsQuery.ReceiptsByRecord(g.Ctx, &types.QueryReceiptsByRecordRequest{RecordId: 2})
	if err != nil || len(resp.Receipts) != 1 {
		t.Fatalf("receipt index after import: %+v %v", resp, err)
	}

	bad := []func(gs *types.GenesisState){
		func(gs *types.GenesisState) { gs.Records = append(gs.Records, gs.Records[0]) },
		func(gs *types.GenesisState) { gs.NextRecordId = 2 },
		func(gs *types.GenesisState) { gs.Records[2].StorageUri = "vault://h/x" },              // erased but keeps a URI
		func(gs *types.GenesisState) { gs.Records[2].ContentHash = gs.Records[0].ContentHash }, // one hash, two records
		func(gs *types.GenesisState) { gs.Records[1].Supersedes = 0 },                          // broken back-link
		func(gs *types.GenesisState) { gs.Records[1].ContentHash = []byte{1} },                 // bad hash
		func(gs *types.GenesisState) { gs.Receipts[0].RecordId = 42 },                          // receipt of a missing record
		func(gs *types.GenesisState) { gs.Receipts[0].Patient = tk.Address(sam) },              // receipt of the wrong patient
		func(gs *types.GenesisState) { gs.Receipts = append(gs.Receipts, gs.Receipts[0]) },     // duplicate receipt
		func(gs *types.GenesisState) { gs.Params.UriSchemes = nil },
	}
	for i, mod := range bad {
		gs, _ := f.Records.ExportGenesis(f.Ctx)
		mod(gs)
		if err := gs.Validate(tk.AddressCodec); err == nil {
			t.Errorf("invalid genesis %d accepted", i)
		}
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ReadDecisions and ReceiptReads answer, for many ids at once, what
// MsgAccessRecord decides for one.
func TestBatchedReadQueries(t *testing.T) {
	f := setup(t) // record 1: lab-result by hospital; clinic may read lab-result for TREAT
	if _, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(alice), Purpose: "PATRQT", Entries: []types.RecordEntry{tk.Entry("allergy", "a1"), tk.Entry("lab-result", "l2")},
	}); err != nil { // 2, 3
		t.Fatal(err)
	}
	if _, err := f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: 3}); err != nil {
		t.Fatal(err)
	}
	got, err := f.RecordsQuery.ReadDecisions(f.Ctx, &types.QueryReadDecisionsRequest{
		Accessor: tk.Address(clinic), Purpose: "TREAT", RecordIds: []uint64{1, 2, 3, 99},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := got.Decisions
	if len(d) != 4 || !d[0].Allowed || d[0].ConsentId == 0 || d[1].Allowed || d[1].Reason != consenttypes.ACCESS_REASON_NOT_COVERED ||
		!d[2].Erased || d[2].Allowed || !d[3].NotFound {
		t.Fatalf("decisions: %+v", d)
	}
	// the same decision as the message: allowed reads succeed, refused ones fail
	if _, err := f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(clinic), RecordId: 2, Purpose: "TREAT"}); err == nil {
		t.Fatal("a read the query refuses succeeds as a message")
	}
	resp, err := f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(clinic), RecordId: 1, Purpose: "TREAT"})
	if err != nil {
		t.Fatal(err)
	}

	reads := func(accessor string, ids ...uint64) []types.ReceiptRead {
		t.Helper()
		r, err := f.RecordsQuery.ReceiptReads(f.Ctx, &types.QueryReceiptReadsRequest{Accessor: tk.Address(accessor), ReceiptIds: ids})
		if err != nil {
			t.Fatal(err)
		}
		return r.Reads
	}
	r := reads(clinic, resp.ReceiptId, 99)
	if !r[0].Found || !r[0].Allowed || r[0].RecordId != 1 || r[0].Author != tk.Address(hospital) || len(r[0].ContentHash) != 32 ||
		!r[0].Time.Equal(f.Ctx.BlockTime()) || r[1].Found {
		t.Fatalf("clinic's receipt reads: %+v", r)
	}
	// someone else's receipt is not found for lab
	if r := reads(lab, resp.ReceiptId); r[0].Found || r[0].Allowed || r[0].ContentHash != nil {
		t.Fatalf("lab asking about clinic's receipt: %+v", r)
	}
	// when alice revokes clinic's consent, the receipt no longer allows the read
	consents, err := f.ConsentQuery.ConsentsByGrantee(f.Ctx, &consenttypes.QueryConsentsByGranteeRequest{Grantee: tk.Address(clinic)})
	if err != nil || len(consents.Consents) == 0 {
		t.Fatalf("clinic's consents: %v", err)
	}
	if _, err := f.ConsentMsg.RevokeConsent(f.Ctx, &consenttypes.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: consents.Consents[0].Id}); err != nil {
		t.Fatal(err)
	}
	if r := reads(clinic, resp.ReceiptId); !r[0].Found || r[0].Allowed {
		t.Fatalf("after the revocation: %+v", r)
	}
	// and a query past the bound is refused
	if _, err := f.RecordsQuery.ReadDecisions(f.Ctx, &types.QueryReadDecisionsRequest{
		Accessor: tk.Address(clinic), Purpose: "TREAT", RecordIds: make([]uint64, types.MaxQueryIDs+1),
	}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("too many ids: %v", err)
	}
}
