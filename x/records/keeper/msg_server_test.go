package keeper_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	"github.com/healthd-chain/healthd/x/records/types"
)

// The cast: alice the patient, dana her live delegate; hospital a provider with
// alice's read+write consent on lab-result for TREAT (it wrote record 1); lab a
// provider without consent; clinic a provider with a read-only consent; susp a
// provider with a write consent that was then suspended; sam a stranger.
const (
	alice    = "alice"
	dana     = "dana"
	hospital = "hospital"
	lab      = "lab"
	clinic   = "clinic"
	susp     = "susp"
	sam      = "sam"
)

var roles = []string{alice, dana, hospital, lab, clinic, susp, sam}

func grant(t testing.TB, f *tk.RecordsFixture, grantee string, perms ...string) uint64 {
	t.Helper()
	resp, err := f.ConsentMsg.GrantConsent(f.Ctx, &consenttypes.MsgGrantConsent{
		Signer: tk.Address(alice), Grantee: tk.Address(grantee), Permissions: perms,
		DataClasses: []string{"lab-result"}, Purposes: []string{"TREAT"}, Duration: 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Id
}

func setup(t testing.TB) *tk.RecordsFixture {
	t.Helper()
	f := tk.NewRecordsFixture(t)
	f.RegisterPatient(t, alice)
	if _, err := f.ConsentMsg.AddDelegate(f.Ctx, &consenttypes.MsgAddDelegate{
		Patient: tk.Address(alice), Delegate: tk.Address(dana), ExpiresAt: tk.GenesisTime.Add(48 * time.Hour),
	}); err != nil {
		t.Fatal(err)
	}
	f.SetProvider(t, tk.ValidProvider(clinic, providerstypes.PROVIDER_STATUS_ACTIVE))
	f.SetProvider(t, tk.ValidProvider(susp, providerstypes.PROVIDER_STATUS_ACTIVE))
	grant(t, f, hospital, "read", "write")
	grant(t, f, clinic, "read")
	grant(t, f, susp, "read", "write")
	f.SetProvider(t, tk.ValidProvider(susp, providerstypes.PROVIDER_STATUS_SUSPENDED))
	if _, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(hospital), Patient: tk.Address(alice), Purpose: "TREAT", Entries: []types.RecordEntry{tk.Entry("lab-result", "r1")},
	}); err != nil {
		t.Fatal(err)
	}
	f.Ctx = f.Ctx.WithBlockTime(tk.GenesisTime.Add(time.Hour)).WithEventManager(sdk.NewEventManager())
	return f
}

func assertErr(t *testing.T, err error, want *errorsmod.Error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	codespace, code, _ := errorsmod.ABCIInfo(err, false)
	if err == nil || !errorsmod.IsOf(err, want) || codespace != types.ModuleName || code != want.ABCICode() {
		t.Fatalf("error = %v (codespace %s code %d), want %s (code %d)", err, codespace, code, want, want.ABCICode())
	}
}

func state(t *testing.T, f *tk.RecordsFixture) []byte {
	t.Helper()
	gs, err := f.Records.ExportGenesis(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f.Codec.MustMarshalJSON(gs)
}

// TestRoleMatrix runs every message with each role as signer.
func TestRoleMatrix(t *testing.T) {
	ok := (*errorsmod.Error)(nil)
	rows := []struct {
		msg  string
		run  func(f *tk.RecordsFixture, signer string) error
		want map[string]*errorsmod.Error
	}{
		{"CreateRecords", func(f *tk.RecordsFixture, s string) error {
			_, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
				Author: tk.Address(s), Patient: tk.Address(alice), Purpose: "TREAT", Entries: []types.RecordEntry{tk.Entry("lab-result", "new")},
			})
			return err
		}, map[string]*errorsmod.Error{
			alice: ok, dana: types.ErrUnauthorized, hospital: ok, lab: types.ErrAccessDenied,
			clinic: types.ErrAccessDenied, susp: types.ErrUnauthorized, sam: types.ErrUnauthorized,
		}},
		{"AmendRecord", func(f *tk.RecordsFixture, s string) error {
			_, err := f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(s), RecordId: 1, Purpose: "TREAT", Entry: tk.Entry("lab-result", "v2")})
			return err
		}, map[string]*errorsmod.Error{
			alice: ok, dana: types.ErrUnauthorized, hospital: ok, lab: types.ErrUnauthorized,
			clinic: types.ErrUnauthorized, susp: types.ErrUnauthorized, sam: types.ErrUnauthorized,
		}},
		{"EraseRecord", func(f *tk.RecordsFixture, s string) error {
			_, err := f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(s), RecordId: 1})
			return err
		}, map[string]*errorsmod.Error{
			alice: ok, dana: ok, hospital: types.ErrUnauthorized, lab: types.ErrUnauthorized,
			clinic: types.ErrUnauthorized, susp: types.ErrUnauthorized, sam: types.ErrUnauthorized,
		}},
		{"AccessRecord", func(f *tk.RecordsFixture, s string) error {
			_, err := f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(s), RecordId: 1, Purpose: "TREAT"})
			return err
		}, map[string]*errorsmod.Error{
			alice: ok, dana: types.ErrAccessDenied, hospital: ok, lab: types.ErrAccessDenied,
			clinic: ok, susp: types.ErrAccessDenied, sam: types.ErrAccessDenied,
		}},
		{"UpdateParams", func(f *tk.RecordsFixture, s string) error {
			_, err := f.RecordsMsg.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: tk.Address(s), Params: types.DefaultParams()})
			return err
		}, map[string]*errorsmod.Error{
			alice: types.ErrUnauthorized, dana: types.ErrUnauthorized, hospital: types.ErrUnauthorized, lab: types.ErrUnauthorized,
			clinic: types.ErrUnauthorized, susp: types.ErrUnauthorized, sam: types.ErrUnauthorized,
		}},
	}
	for _, r := range rows {
		for _, role := range roles {
			t.Run(r.msg+"/"+role, func(t *testing.T) {
				f := setup(t)
				before := state(t, f)
				err := r.run(f, role)
				assertErr(t, err, r.want[role])
				if r.want[role] != nil {
					if !bytes.Equal(before, state(t, f)) {
						t.Fatal("a refused message changed the state")
					}
					if n := len(f.Ctx.EventManager().Events()); n != 0 {
						t.Fatalf("a refused message emitted %d events", n)
					}
				}
			})
		}
	}
	t.Run("UpdateParams/authority", func(t *testing.T) {
		f := setup(t)
		p := types.DefaultParams()
		p.MaxBatchSize = 7
		_, err := f.RecordsMsg.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: tk.Authority(), Params: p})
		assertErr(t, err, nil)
		if got, _ := f.Records.Params.Get(f.Ctx); got.MaxBatchSize != 7 {
			t.Fatalf("max batch size = %d", got.MaxBatchSize)
		}
	})
}

func TestEveryInvalidFieldHasItsError(t *testing.T) {
	entry := func(mod func(e *types.RecordEntry)) []types.RecordEntry {
		e := tk.Entry("lab-result", "x")
		mod(&e)
		return []types.RecordEntry{e}
	}
	many := make([]types.RecordEntry, types.DefaultMaxBatchSize+1)
	for i := range many {
		many[i] = tk.Entry("lab-result", string(rune(i)))
	}
	cases := []struct {
		name    string
		patient string
		purpose string
		entries []types.RecordEntry
		want    *errorsmod.Error
	}{
		{"hash of 31 bytes", alice, "TREAT", entry(func(e *types.RecordEntry) { e.ContentHash = e.ContentHash[:31] }), types.ErrInvalidHash},
		{"size 0", alice, "TREAT", entry(func(e *types.RecordEntry) { e.Size_ = 0 }), types.ErrInvalidSize},
		{"size over the max", alice, "TREAT", entry(func(e *types.RecordEntry) { e.Size_ = types.DefaultMaxRecordSize + 1 }), types.ErrInvalidSize},
		{"ftp uri", alice, "TREAT", entry(func(e *types.RecordEntry) { e.StorageUri = "ftp://x/y" }), types.ErrInvalidURI},
		{"uri over 512 characters", alice, "TREAT", entry(func(e *types.RecordEntry) { e.StorageUri = "vault://h/" + strings.Repeat("a", 510) }), types.ErrInvalidURI},
		{"uri with credentials", alice, "TREAT", entry(func(e *types.RecordEntry) { e.StorageUri = "https://u:p@h/x" }), types.ErrInvalidURI},
		{"uri without location", alice, "TREAT", entry(func(e *types.RecordEntry) { e.StorageUri = "vault://" }), types.ErrInvalidURI},
		{"unknown data class", alice, "TREAT", entry(func(e *types.RecordEntry) { e.DataClass = "x-ray" }), types.ErrInvalidDataClass},
		{"lower-case FHIR type", alice, "TREAT", entry(func(e *types.RecordEntry) { e.FhirResourceType = "observation" }), types.ErrInvalidFHIRType},
		{"empty key envelope", alice, "TREAT", entry(func(e *types.RecordEntry) { e.KeyEnvelope = nil }), types.ErrInvalidEnvelope},
		{"oversized key envelope", alice, "TREAT", entry(func(e *types.RecordEntry) { e.KeyEnvelope = make([]byte, 2049) }), types.ErrInvalidEnvelope},
		{"unknown purpose", alice, "cure", entry(func(*types.RecordEntry) {}), types.ErrInvalidPurpose},
		{"empty batch", alice, "TREAT", nil, types.ErrEmptyBatch},
		{"batch over the cap", alice, "TREAT", many, types.ErrBatchTooLarge},
		{"the same hash twice", alice, "TREAT", append(entry(func(*types.RecordEntry) {}), entry(func(*types.RecordEntry) {})...), types.ErrDuplicateHash},
		{"unregistered patient", sam, "TREAT", entry(func(*types.RecordEntry) {}), types.ErrPatientNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			before := state(t, f)
			_, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{Author: tk.Address(tc.patient), Purpose: tc.purpose, Entries: tc.entries})
			assertErr(t, err, tc.want)
			if !bytes.Equal(before, state(t, f)) {
				t.Fatal("state changed")
			}
		})
	}
	t.Run("malformed and upper-case addresses", func(t *testing.T) {
		f := setup(t)
		for _, a := range []string{"health1nope", strings.ToUpper(tk.Address(alice))} {
			_, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{Author: a, Purpose: "TREAT", Entries: []types.RecordEntry{tk.Entry("lab-result", "x")}})
			assertErr(t, err, types.ErrInvalidAddress)
		}
	})
}

func TestCreateIsAllOrNothing(t *testing.T) {
	// given hospital may write lab-result only
	f := setup(t)
	before := state(t, f)
	// when it sends a batch whose third entry is another class
	_, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(hospital), Patient: tk.Address(alice), Purpose: "TREAT",
		Entries: []types.RecordEntry{tk.Entry("lab-result", "a"), tk.Entry("lab-result", "b"), tk.Entry("diagnosis", "c")},
	})
	// then the whole batch is refused and nothing is stored
	assertErr(t, err, types.ErrAccessDenied)
	if !bytes.Equal(before, state(t, f)) {
		t.Fatal("a refused batch stored records")
	}
	// and a batch of three allowed entries gets three ids in order
	resp, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(hospital), Patient: tk.Address(alice), Purpose: "TREAT",
		Entries: []types.RecordEntry{tk.Entry("lab-result", "a"), tk.Entry("lab-result", "b"), tk.Entry("lab-result", "c")},
	})
	assertErr(t, err, nil)
	if len(resp.Ids) != 3 || resp.Ids[0] != 2 || resp.Ids[2] != 4 {
		t.Fatalf("ids = %v, want [2 3 4]", resp.Ids)
	}
	r, _ := f.Records.GetRecord(f.Ctx, 3)
	if r.Author != tk.Address(hospital) || r.Patient != tk.Address(alice) || r.Status != types.RECORD_STATUS_ACTIVE ||
		!r.CreatedAt.Equal(f.Ctx.BlockTime()) || r.Height != f.Ctx.BlockHeight() {
		t.Fatalf("record = %+v", r)
	}
}

func TestAmendEraseAccessLifecycle(t *testing.T) {
	f := setup(t)
	// amend: a new version, the old one superseded, linked both ways
	resp, err := f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(hospital), RecordId: 1, Purpose: "TREAT", Entry: tk.Entry("lab-result", "v2")})
	assertErr(t, err, nil)
	old, _ := f.Records.GetRecord(f.Ctx, 1)
	v2, _ := f.Records.GetRecord(f.Ctx, resp.Id)
	if old.Status != types.RECORD_STATUS_SUPERSEDED || old.SupersededBy != v2.Id || v2.Supersedes != 1 || v2.Status != types.RECORD_STATUS_ACTIVE {
		t.Fatalf("old %+v new %+v", old, v2)
	}
	_, err = f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(hospital), RecordId: 1, Purpose: "TREAT", Entry: tk.Entry("lab-result", "v3")})
	assertErr(t, err, types.ErrNotActive)
	_, err = f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(hospital), RecordId: v2.Id, Purpose: "TREAT", Entry: tk.Entry("diagnosis", "v3")})
	assertErr(t, err, types.ErrClassChange)
	_, err = f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(hospital), RecordId: 99, Purpose: "TREAT", Entry: tk.Entry("lab-result", "v3")})
	assertErr(t, err, types.ErrRecordNotFound)

	// access: clinic reads the superseded version under its consent; the receipt says so
	acc, err := f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(clinic), RecordId: 1, Purpose: "TREAT"})
	assertErr(t, err, nil)
	rc, _ := f.Records.Receipts.Get(f.Ctx, acc.ReceiptId)
	if rc.Accessor != tk.Address(clinic) || rc.Patient != tk.Address(alice) || rc.ConsentId != 2 || rc.Purpose != "TREAT" || !rc.Time.Equal(f.Ctx.BlockTime()) {
		t.Fatalf("receipt = %+v", rc)
	}
	// a wrong purpose is refused and leaves no receipt
	_, err = f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(clinic), RecordId: 1, Purpose: "HRESCH"})
	assertErr(t, err, types.ErrAccessDenied)
	if next, _ := f.Records.ReceiptSeq.Peek(f.Ctx); next != acc.ReceiptId+1 {
		t.Fatal("a refused read used a receipt id")
	}

	// erase: the tombstone keeps only the hash; reads and a second erase are refused
	_, err = f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(dana), RecordId: v2.Id})
	assertErr(t, err, nil)
	gone, _ := f.Records.GetRecord(f.Ctx, v2.Id)
	if gone.Status != types.RECORD_STATUS_ERASED || gone.StorageUri != "" || len(gone.KeyEnvelope) != 0 || !bytes.Equal(gone.ContentHash, v2.ContentHash) {
		t.Fatalf("tombstone = %+v", gone)
	}
	var erasedEvent bool
	for _, e := range f.Ctx.EventManager().Events() {
		erasedEvent = erasedEvent || e.Type == "healthd.records.v1.EventRecordErased"
	}
	if !erasedEvent {
		t.Fatal("no erase event for the vaults")
	}
	// and the version it superseded was erased with it (one amendment chain, one erasure)
	if old, _ := f.Records.GetRecord(f.Ctx, 1); old.Status != types.RECORD_STATUS_ERASED || len(old.KeyEnvelope) != 0 || old.StorageUri != "" {
		t.Fatalf("the earlier version after erasing the latest: %+v", old)
	}
	_, err = f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: v2.Id})
	assertErr(t, err, types.ErrRecordErased)
	_, err = f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: 1})
	assertErr(t, err, types.ErrRecordErased)
	_, err = f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(alice), RecordId: v2.Id, Purpose: "PATRQT"})
	assertErr(t, err, types.ErrRecordErased)

	// the author that was suspended can no longer read what it wrote
	created, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(hospital), Patient: tk.Address(alice), Purpose: "TREAT", Entries: []types.RecordEntry{tk.Entry("lab-result", "r9")},
	})
	assertErr(t, err, nil)
	f.SetProvider(t, tk.ValidProvider(hospital, providerstypes.PROVIDER_STATUS_SUSPENDED))
	_, err = f.RecordsMsg.AccessRecord(f.Ctx, &types.MsgAccessRecord{Accessor: tk.Address(hospital), RecordId: created.Ids[0], Purpose: "TREAT"})
	assertErr(t, err, types.ErrAccessDenied)
}

// TestContentHashIsCommittedOnce: no author, for no patient, commits a hash
// that a record already holds, active or erased; that is what binds a vault's
// blob to one record.
func TestContentHashIsCommittedOnce(t *testing.T) {
	f := setup(t)
	const bob = "bob"
	f.RegisterPatient(t, bob)
	// record 1 (setup) is hospital's lab result for alice, hash of "r1"
	first, _ := f.Records.GetRecord(f.Ctx, 1)
	copied := tk.Entry("lab-result", "r1")
	if !bytes.Equal(copied.ContentHash, first.ContentHash) {
		t.Fatalf("setup's record 1 has another hash than Entry(r1)")
	}
	create := func(author, patient string, e types.RecordEntry) error {
		_, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
			Author: tk.Address(author), Patient: tk.Address(patient), Purpose: "TREAT", Entries: []types.RecordEntry{e},
		})
		return err
	}
	assertErr(t, create(hospital, alice, copied), types.ErrHashCommitted) // the same author again
	assertErr(t, create(alice, alice, copied), types.ErrHashCommitted)    // the patient herself
	assertErr(t, create(bob, bob, copied), types.ErrHashCommitted)        // another patient
	_, err := f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{Author: tk.Address(hospital), RecordId: 1, Purpose: "TREAT", Entry: copied})
	assertErr(t, err, types.ErrHashCommitted)

	// and an erased record's tombstone keeps its hash taken
	_, err = f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: 1})
	assertErr(t, err, nil)
	assertErr(t, create(bob, bob, copied), types.ErrHashCommitted)
	assertErr(t, create(bob, bob, tk.Entry("lab-result", "fresh")), nil)
}

// Events and state carry hashes, ids, addresses and classes: never the storage
// location or key material in events.
func TestEventsCarryNoLocationOrKeys(t *testing.T) {
	f := setup(t)
	e := tk.Entry("lab-result", "evt")
	if _, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{Author: tk.Address(alice), Purpose: "PATRQT", Entries: []types.RecordEntry{e}}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range f.Ctx.EventManager().Events() {
		for _, a := range ev.Attributes {
			if strings.Contains(a.Value, "vault://") || strings.Contains(a.Value, "wrapped-data-key") {
				t.Fatalf("event %s leaks %s=%s", ev.Type, a.Key, a.Value)
			}
		}
	}
}

func TestRevocationRotatesTheClassKeyEpoch(t *testing.T) {
	f := setup(t)
	// given lab held lab-result and diagnosis with a key grant
	labConsent, err := f.ConsentMsg.GrantConsent(f.Ctx, &consenttypes.MsgGrantConsent{
		Signer: tk.Address(alice), Grantee: tk.Address(lab), Permissions: []string{"read"},
		DataClasses: []string{"diagnosis", "lab-result"}, Purposes: []string{"TREAT"}, Duration: 24 * time.Hour,
		KeyGrants: [][]byte{tk.KeyGrant("lab-result", 1)},
	})
	assertErr(t, err, nil)
	create := func(epoch uint64, seed string) error {
		e := tk.Entry("lab-result", seed)
		e.KeyEpoch = epoch
		_, err := f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
			Author: tk.Address(hospital), Patient: tk.Address(alice), Purpose: "TREAT", Entries: []types.RecordEntry{e},
		})
		return err
	}
	// records are written under epoch 1 until then; any other epoch is refused
	assertErr(t, create(2, "early"), types.ErrStaleKeyEpoch)
	assertErr(t, create(1, "before"), nil)

	// when alice revokes lab's consent, both its classes move to epoch 2
	_, err = f.ConsentMsg.RevokeConsent(f.Ctx, &consenttypes.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: labConsent.Id})
	assertErr(t, err, nil)
	aliceAddr, _ := tk.AddressCodec.StringToBytes(tk.Address(alice))
	for _, class := range []string{"diagnosis", "lab-result"} {
		if e, _ := f.Consent.ClassKeyEpoch(f.Ctx, aliceAddr, class); e != 2 {
			t.Fatalf("%s epoch %d after the revocation, want 2", class, e)
		}
	}
	if e, _ := f.Consent.ClassKeyEpoch(f.Ctx, aliceAddr, "allergy"); e != 1 {
		t.Fatalf("allergy epoch %d, want 1 (not in the revoked consent)", e)
	}
	// then a record under the old key is refused, one under the new key is not
	assertErr(t, create(1, "after-old-key"), types.ErrStaleKeyEpoch)
	assertErr(t, create(2, "after-new-key"), nil)
	// and in a batch, every entry's epoch is checked, not only the first of its
	// class (the class's current epoch is read once per message)
	fresh, stale := tk.Entry("lab-result", "batch-new"), tk.Entry("lab-result", "batch-old")
	fresh.KeyEpoch, stale.KeyEpoch = 2, 1
	before := state(t, f)
	_, err = f.RecordsMsg.CreateRecords(f.Ctx, &types.MsgCreateRecords{
		Author: tk.Address(hospital), Patient: tk.Address(alice), Purpose: "TREAT", Entries: []types.RecordEntry{fresh, stale},
	})
	assertErr(t, err, types.ErrStaleKeyEpoch)
	if !bytes.Equal(before, state(t, f)) {
		t.Fatal("a batch with a stale entry stored records")
	}
	// and revoking a consent without key grants (hospital's) rotates nothing
	q, err := f.ConsentQuery.ConsentsByGrantee(f.Ctx, &consenttypes.QueryConsentsByGranteeRequest{Grantee: tk.Address(clinic)})
	assertErr(t, err, nil)
	_, err = f.ConsentMsg.RevokeConsent(f.Ctx, &consenttypes.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: q.Consents[0].Id})
	assertErr(t, err, nil)
	epochs, err := f.ConsentQuery.KeyEpochs(f.Ctx, &consenttypes.QueryKeyEpochsRequest{Patient: tk.Address(alice)})
	assertErr(t, err, nil)
	if len(epochs.Epochs) != 2 || epochs.Epochs[0].DataClass != "diagnosis" || epochs.Epochs[1].Epoch != 2 {
		t.Fatalf("key epochs = %+v", epochs.Epochs)
	}
}

// TestEraseALongAmendmentChainInPages: a chain longer than MaxEraseVersions is
// erased in several transactions, each bounded, each saying whether more remain.
func TestEraseALongAmendmentChainInPages(t *testing.T) {
	f := setup(t)
	last := uint64(1)
	for i := range types.MaxEraseVersions + 10 {
		resp, err := f.RecordsMsg.AmendRecord(f.Ctx, &types.MsgAmendRecord{
			Author: tk.Address(alice), RecordId: last, Purpose: "PATRQT", Entry: tk.Entry("lab-result", fmt.Sprintf("version %d", i)),
		})
		assertErr(t, err, nil)
		last = resp.Id
	}
	total := int(last) // records 1..last, one chain
	// erasing from the middle: first page
	middle := uint64(total / 2)
	resp, err := f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: middle})
	assertErr(t, err, nil)
	if len(resp.ErasedIds) != types.MaxEraseVersions || !resp.More || resp.ErasedIds[0] != middle {
		t.Fatalf("first page: %d erased (first %d), more %v", len(resp.ErasedIds), resp.ErasedIds[0], resp.More)
	}
	// the same message again finishes the chain
	resp, err = f.RecordsMsg.EraseRecord(f.Ctx, &types.MsgEraseRecord{Signer: tk.Address(alice), RecordId: middle})
	assertErr(t, err, nil)
	if len(resp.ErasedIds) != total-types.MaxEraseVersions || resp.More {
		t.Fatalf("second page: %d erased, more %v; want %d and no more", len(resp.ErasedIds), resp.More, total-types.MaxEraseVersions)
	}
	for id := uint64(1); id <= last; id++ {
		if r, _ := f.Records.GetRecord(f.Ctx, id); r.Status != types.RECORD_STATUS_ERASED {
			t.Fatalf("version %d is %s", id, r.Status)
		}
	}
}
