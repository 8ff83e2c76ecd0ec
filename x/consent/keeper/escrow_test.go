package keeper_test

import (
	"bytes"
	"testing"
	"time"

	errorsmod "cosmossdk.io/errors"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
)

var custodians = []string{"custodian1", "custodian2", "custodian3"}

// setCustodians has governance set the custodian set (names) with threshold t.
func setCustodians(t *testing.T, f *tk.ConsentFixture, threshold uint32, names ...string) types.Params {
	t.Helper()
	params, err := f.Consent.Params.Get(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	params.Custodians = nil
	for _, n := range names {
		params.Custodians = append(params.Custodians, types.Custodian{Address: tk.Address(n), EncryptionKey: tk.EncryptionKey(n)})
	}
	params.CustodianThreshold = threshold
	if _, err := f.ConsentMsg.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: f.Consent.Authority(), Params: params}); err != nil {
		t.Fatal(err)
	}
	params, _ = f.Consent.Params.Get(f.Ctx)
	return params
}

// escrowMsg is a well-formed escrow of lab-result and allergy by alice for the
// current custodian set (the chain checks shapes, not the ciphertexts).
func escrowMsg(t *testing.T, f *tk.ConsentFixture) *types.MsgEscrowKeys {
	t.Helper()
	params, _ := f.Consent.Params.Get(f.Ctx)
	m := &types.MsgEscrowKeys{
		Signer: tk.Address(alice), Patient: tk.Address(alice), SetVersion: params.CustodianSetVersion,
		Classes: []types.ClassEpoch{{DataClass: "lab-result", Epoch: 1}, {DataClass: "allergy", Epoch: 1}},
	}
	for i, c := range params.Custodians {
		m.Shares = append(m.Shares, types.EscrowShare{Custodian: c.Address, Sealed: bytes.Repeat([]byte{byte(i + 1)}, 1300)})
		for _, cl := range m.Classes {
			m.Commitments = append(m.Commitments, types.ShareCommitment{DataClass: cl.DataClass, Custodian: c.Address, Hash: bytes.Repeat([]byte{7}, 32)})
		}
	}
	return m
}

// Custodians are never providers that may break the glass: governance cannot
// list a provider, and a custodian that became a provider cannot break it.
func TestCustodiansAreNotProviders(t *testing.T) {
	f, _ := setup(t)
	params, _ := f.Consent.Params.Get(f.Ctx)
	params.Custodians = []types.Custodian{
		{Address: tk.Address(hospital), EncryptionKey: tk.EncryptionKey(hospital)},
		{Address: tk.Address("custodian2"), EncryptionKey: tk.EncryptionKey("custodian2")},
	}
	params.CustodianThreshold = 2
	_, err := f.ConsentMsg.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: f.Consent.Authority(), Params: params})
	assertErr(t, err, types.ErrInvalidParams)
	// (set as if the custodian registered as a provider afterwards)
	if err := f.Consent.Params.Set(f.Ctx, params); err != nil {
		t.Fatal(err)
	}
	_, err = f.ConsentMsg.BreakGlass(f.Ctx, &types.MsgBreakGlass{
		Provider: tk.Address(hospital), Patient: tk.Address(alice), Reason: types.EMERGENCY_REASON_UNCONSCIOUS_PATIENT, Note: "ED", Duration: time.Hour,
	})
	assertErr(t, err, types.ErrUnauthorized)
}

func TestEscrowKeys(t *testing.T) {
	t.Run("governance's custodian set change bumps its version", func(t *testing.T) {
		f, _ := setup(t)
		if p := setCustodians(t, f, 2, custodians...); p.CustodianSetVersion != 1 {
			t.Fatalf("version %d after the first set", p.CustodianSetVersion)
		}
		if p := setCustodians(t, f, 2, custodians...); p.CustodianSetVersion != 1 {
			t.Fatalf("version %d after setting the same set again", p.CustodianSetVersion)
		}
		if p := setCustodians(t, f, 3, custodians...); p.CustodianSetVersion != 2 {
			t.Fatalf("version %d after a threshold change", p.CustodianSetVersion)
		}
		params, _ := f.Consent.Params.Get(f.Ctx)
		params.CustodianThreshold = 4
		_, err := f.ConsentMsg.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: f.Consent.Authority(), Params: params})
		assertErr(t, err, types.ErrInvalidParams)
	})

	t.Run("the patient escrows; the escrow is queryable and not stale", func(t *testing.T) {
		f, _ := setup(t)
		setCustodians(t, f, 2, custodians...)
		_, err := f.ConsentMsg.EscrowKeys(f.Ctx, escrowMsg(t, f))
		assertErr(t, err, nil)
		resp, err := f.ConsentQuery.Escrow(f.Ctx, &types.QueryEscrowRequest{Patient: tk.Address(alice)})
		if err != nil || resp.Stale || len(resp.Escrow.Shares) != 3 || resp.Escrow.Threshold != 2 {
			t.Fatalf("escrow query: %+v %v", resp, err)
		}
		found := false
		for _, e := range f.Ctx.EventManager().Events() {
			found = found || e.Type == "healthd.consent.v1.EventKeysEscrowed"
		}
		if !found {
			t.Fatal("no EventKeysEscrowed")
		}
	})

	cases := []struct {
		name  string
		mod   func(f *tk.ConsentFixture, m *types.MsgEscrowKeys)
		setup func(t *testing.T, f *tk.ConsentFixture)
		err   *errorsmod.Error
	}{
		{"by a live delegate (it does not hold the keys)", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Signer = tk.Address(dana) }, nil, types.ErrUnauthorized},
		{"by a provider, of alice's keys", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Signer = tk.Address(hospital) }, nil, types.ErrUnauthorized},
		{"by bob, for alice", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Signer = tk.Address(bob) }, nil, types.ErrUnauthorized},
		{"an unregistered patient", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) {
			m.Signer, m.Patient = tk.Address(sam), tk.Address(sam)
		}, nil, types.ErrPatientNotFound},
		{"for an older custodian set", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.SetVersion-- }, nil, types.ErrStaleEscrow},
		{"a share set missing", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Shares = m.Shares[:2] }, nil, types.ErrInvalidEscrow},
		{"share sets in another order", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) {
			m.Shares[0], m.Shares[1] = m.Shares[1], m.Shares[0]
		}, nil, types.ErrInvalidEscrow},
		{"a class not at its current epoch", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Classes[0].Epoch = 2 }, nil, types.ErrInvalidEscrow},
		{"a class twice", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Classes[1] = m.Classes[0] }, nil, types.ErrInvalidEscrow},
		{"a commitment missing", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Commitments = m.Commitments[1:] }, nil, types.ErrInvalidEscrow},
		{"a commitment twice", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Commitments[1] = m.Commitments[0] }, nil, types.ErrInvalidEscrow},
		{"a short commitment", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) { m.Commitments[0].Hash = m.Commitments[0].Hash[:31] }, nil, types.ErrInvalidEscrow},
		{"an over-size share set", func(_ *tk.ConsentFixture, m *types.MsgEscrowKeys) {
			m.Shares[2].Sealed = make([]byte, types.MaxEscrowSealedSize+1)
		}, nil, types.ErrInvalidEscrow},
		{"no custodians on chain", nil, func(t *testing.T, f *tk.ConsentFixture) { setCustodians(t, f, 0) }, types.ErrInvalidEscrow},
	}
	for _, tc := range cases {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			f, _ := setup(t)
			setCustodians(t, f, 2, custodians...)
			m := escrowMsg(t, f)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			if tc.mod != nil {
				tc.mod(f, m)
			}
			_, err := f.ConsentMsg.EscrowKeys(f.Ctx, m)
			assertErr(t, err, tc.err)
		})
	}
}

// openEmergency has provider open an emergency access to patient for d.
func openEmergency(t *testing.T, f *tk.ConsentFixture, provider, patient string, d time.Duration) uint64 {
	t.Helper()
	resp, err := f.ConsentMsg.BreakGlass(f.Ctx, &types.MsgBreakGlass{
		Provider: tk.Address(provider), Patient: tk.Address(patient), Reason: types.EMERGENCY_REASON_UNCONSCIOUS_PATIENT,
		Note: "ED admission", Duration: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Id
}

// release has custodian release shares for access, from the patient's current
// escrow (the one the daemon would have opened).
func release(f *tk.ConsentFixture, custodian string, access uint64) error {
	m := &types.MsgReleaseKeyShares{Custodian: tk.Address(custodian), AccessId: access, Sealed: bytes.Repeat([]byte{9}, 1300)}
	if c, err := f.Consent.GetConsent(f.Ctx, access); err == nil {
		if e, err := f.ConsentQuery.Escrow(f.Ctx, &types.QueryEscrowRequest{Patient: c.Patient}); err == nil {
			m.EscrowedAt = e.Escrow.EscrowedAt
		}
	}
	_, err := f.ConsentMsg.ReleaseKeyShares(f.Ctx, m)
	return err
}

func TestReleaseKeyShares(t *testing.T) {
	// alice escrowed with 3 custodians, lab broke the glass for 2 hours
	ready := func(t *testing.T) (*tk.ConsentFixture, uint64, uint64) {
		f, grant := setup(t)
		setCustodians(t, f, 2, custodians...)
		if _, err := f.ConsentMsg.EscrowKeys(f.Ctx, escrowMsg(t, f)); err != nil {
			t.Fatal(err)
		}
		return f, openEmergency(t, f, lab, alice, 2*time.Hour), grant
	}

	t.Run("custodians release once each, to the provider, visibly", func(t *testing.T) {
		f, access, _ := ready(t)
		live, err := f.ConsentQuery.LiveEmergencyAccesses(f.Ctx, &types.QueryLiveEmergencyAccessesRequest{})
		if err != nil || len(live.Consents) != 1 || live.Consents[0].Id != access {
			t.Fatalf("live emergency accesses: %+v %v", live, err)
		}
		assertErr(t, release(f, "custodian1", access), nil)
		assertErr(t, release(f, "custodian3", access), nil)
		assertErr(t, release(f, "custodian1", access), types.ErrAlreadyReleased)
		resp, err := f.ConsentQuery.KeyReleases(f.Ctx, &types.QueryKeyReleasesRequest{Patient: tk.Address(alice), AccessId: access})
		if err != nil || len(resp.Releases) != 2 {
			t.Fatalf("releases: %+v %v", resp, err)
		}
		r := resp.Releases[0]
		if r.Provider != tk.Address(lab) || r.Patient != tk.Address(alice) || len(r.Classes) != 2 || r.SetVersion != 1 ||
			r.Threshold != 2 || len(r.Commitments) != 2 || r.Commitments[0].Custodian != r.Custodian {
			t.Fatalf("release: %+v", r)
		}
		events := 0
		for _, e := range f.Ctx.EventManager().Events() {
			if e.Type == "healthd.consent.v1.EventKeySharesReleased" {
				events++
			}
		}
		if events != 2 {
			t.Fatalf("%d release events, want 2", events)
		}
	})

	cases := []struct {
		name string
		do   func(t *testing.T, f *tk.ConsentFixture, access, grant uint64) error
		err  *errorsmod.Error
	}{
		{"from a non-custodian", func(_ *testing.T, f *tk.ConsentFixture, access, _ uint64) error {
			return release(f, hospital, access)
		}, types.ErrNotCustodian},
		{"for a consent that is not an emergency", func(_ *testing.T, f *tk.ConsentFixture, _, grant uint64) error {
			return release(f, "custodian1", grant)
		}, types.ErrNotEmergency},
		{"after the access's end", func(_ *testing.T, f *tk.ConsentFixture, access, _ uint64) error {
			f.At(f.Ctx.BlockTime().Add(2*time.Hour + time.Second))
			return release(f, "custodian1", access)
		}, types.ErrEmergencyNotLive},
		{"after an abusive review", func(t *testing.T, f *tk.ConsentFixture, access, _ uint64) error {
			if _, err := f.ConsentMsg.ReviewEmergencyAccess(f.Ctx, &types.MsgReviewEmergencyAccess{
				Reviewer: tk.Address("registrar"), ConsentId: access, Verdict: types.REVIEW_STATE_ABUSIVE,
			}); err != nil {
				t.Fatal(err)
			}
			return release(f, "custodian1", access)
		}, types.ErrEmergencyNotLive},
		{"for a patient without an escrow", func(t *testing.T, f *tk.ConsentFixture, _, _ uint64) error {
			return release(f, "custodian1", openEmergency(t, f, hospital, bob, time.Hour))
		}, types.ErrNoEscrow},
		{"from an escrow of an older custodian set", func(t *testing.T, f *tk.ConsentFixture, access, _ uint64) error {
			setCustodians(t, f, 3, custodians...)
			return release(f, "custodian1", access)
		}, types.ErrStaleEscrow},
		{"from a custodian governance removed", func(t *testing.T, f *tk.ConsentFixture, access, _ uint64) error {
			setCustodians(t, f, 2, custodians[:2]...)
			return release(f, "custodian3", access)
		}, types.ErrNotCustodian},
		{"to a provider suspended meanwhile", func(t *testing.T, f *tk.ConsentFixture, access, _ uint64) error {
			f.SetProvider(t, tk.ValidProvider(lab, providerstypes.PROVIDER_STATUS_SUSPENDED))
			return release(f, "custodian1", access)
		}, types.ErrProviderNotActive},
		{"from an escrow the patient replaced meanwhile", func(t *testing.T, f *tk.ConsentFixture, access, _ uint64) error {
			before, _ := f.ConsentQuery.Escrow(f.Ctx, &types.QueryEscrowRequest{Patient: tk.Address(alice)})
			f.At(f.Ctx.BlockTime().Add(time.Minute))
			if _, err := f.ConsentMsg.EscrowKeys(f.Ctx, escrowMsg(t, f)); err != nil {
				t.Fatal(err)
			}
			_, err := f.ConsentMsg.ReleaseKeyShares(f.Ctx, &types.MsgReleaseKeyShares{
				Custodian: tk.Address("custodian1"), AccessId: access, Sealed: []byte{9}, EscrowedAt: before.Escrow.EscrowedAt,
			})
			return err
		}, types.ErrStaleEscrow},
		{"an empty release", func(_ *testing.T, f *tk.ConsentFixture, access, _ uint64) error {
			_, err := f.ConsentMsg.ReleaseKeyShares(f.Ctx, &types.MsgReleaseKeyShares{Custodian: tk.Address("custodian1"), AccessId: access})
			return err
		}, types.ErrInvalidRelease},
	}
	for _, tc := range cases {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			f, access, grant := ready(t)
			assertErr(t, tc.do(t, f, access, grant), tc.err)
		})
	}

	t.Run("a custodian set change makes the escrow stale until the patient escrows again", func(t *testing.T) {
		f, access, _ := ready(t)
		setCustodians(t, f, 3, custodians...)
		resp, err := f.ConsentQuery.Escrow(f.Ctx, &types.QueryEscrowRequest{Patient: tk.Address(alice)})
		if err != nil || !resp.Stale || resp.CurrentSetVersion != 2 {
			t.Fatalf("after the change: %+v %v", resp, err)
		}
		if _, err := f.ConsentMsg.EscrowKeys(f.Ctx, escrowMsg(t, f)); err != nil {
			t.Fatal(err)
		}
		assertErr(t, release(f, "custodian2", access), nil)
	})
}

// An emergency access leaves the live list when it ends.
func TestLiveEmergencyAccessesEnd(t *testing.T) {
	f, _ := setup(t)
	access := openEmergency(t, f, lab, alice, time.Hour)
	f.At(f.Ctx.BlockTime().Add(2 * time.Hour))
	if err := f.Consent.EndBlocker(f.Ctx); err != nil {
		t.Fatal(err)
	}
	live, err := f.ConsentQuery.LiveEmergencyAccesses(f.Ctx, &types.QueryLiveEmergencyAccessesRequest{})
	if err != nil || len(live.Consents) != 0 {
		t.Fatalf("after access %d ended: %+v %v", access, live, err)
	}
}

// Escrows, releases and the live emergency accesses survive a genesis export
// and import; inconsistent ones are refused.
func TestGenesisEscrows(t *testing.T) {
	f, _ := setup(t)
	setCustodians(t, f, 2, custodians...)
	if _, err := f.ConsentMsg.EscrowKeys(f.Ctx, escrowMsg(t, f)); err != nil {
		t.Fatal(err)
	}
	access := openEmergency(t, f, lab, alice, time.Hour)
	assertErr(t, release(f, "custodian1", access), nil)
	assertErr(t, release(f, "custodian2", access), nil)

	exported, err := f.Consent.ExportGenesis(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := exported.Validate(tk.AddressCodec); err != nil {
		t.Fatalf("export does not validate: %v", err)
	}
	if len(exported.Escrows) != 1 || len(exported.Releases) != 2 || exported.Params.CustodianSetVersion != 1 {
		t.Fatalf("exported %d escrows, %d releases, set version %d", len(exported.Escrows), len(exported.Releases), exported.Params.CustodianSetVersion)
	}
	g := tk.NewConsentFixture(t)
	g.At(f.Ctx.BlockTime())
	if err := g.Consent.InitGenesis(g.Ctx, exported); err != nil {
		t.Fatal(err)
	}
	again, err := g.Consent.ExportGenesis(g.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Codec.MustMarshalJSON(exported), g.Codec.MustMarshalJSON(again)) {
		t.Fatal("export differs after import")
	}
	live, err := g.ConsentQuery.LiveEmergencyAccesses(g.Ctx, &types.QueryLiveEmergencyAccessesRequest{})
	if err != nil || len(live.Consents) != 1 || live.Consents[0].Id != access {
		t.Fatalf("live emergency accesses after import: %+v %v", live, err)
	}
	assertErr(t, release(g, "custodian1", access), types.ErrAlreadyReleased)
	assertErr(t, release(g, "custodian3", access), nil)

	bad := []func(gs *types.GenesisState){
		func(gs *types.GenesisState) { gs.Escrows[0].Patient = tk.Address(sam) },
		func(gs *types.GenesisState) { gs.Escrows = append(gs.Escrows, gs.Escrows[0]) },
		func(gs *types.GenesisState) { gs.Escrows[0].SetVersion = 9 },
		func(gs *types.GenesisState) { gs.Escrows[0].Commitments[0].Hash = nil },
		func(gs *types.GenesisState) { gs.Releases[0].AccessId = 99 },
		func(gs *types.GenesisState) { gs.Releases = append(gs.Releases, gs.Releases[0]) },
		func(gs *types.GenesisState) { gs.Releases[0].Sealed = nil },
		func(gs *types.GenesisState) { gs.Params.Custodians[0].Address = "x" },
		func(gs *types.GenesisState) { gs.Params.CustodianThreshold = 1 },
	}
	for i, mod := range bad {
		gs, _ := f.Consent.ExportGenesis(f.Ctx)
		mod(gs)
		if err := gs.Validate(tk.AddressCodec); err == nil {
			t.Errorf("bad genesis %d validated", i)
		}
	}
}

// A patient rotates class keys without revoking: the epochs move, a live
// grantee's grants are replaced by the new epoch's in the same message, and
// only the patient may do it.
func TestRotateClassKeys(t *testing.T) {
	f, grant := setup(t) // alice's consent to hospital, on lab-result
	aliceAddr, _ := tk.AddressCodec.StringToBytes(tk.Address(alice))
	rotate := func(signer string, classes []string, updates ...types.KeyGrantUpdate) error {
		_, err := f.ConsentMsg.RotateClassKeys(f.Ctx, &types.MsgRotateClassKeys{Patient: tk.Address(signer), DataClasses: classes, RotatedKeyGrants: updates})
		return err
	}
	assertErr(t, rotate(alice, nil), types.ErrInvalidDataClass)
	assertErr(t, rotate(alice, []string{"lab-result", "lab-result"}), types.ErrInvalidDataClass)
	assertErr(t, rotate(sam, []string{"lab-result"}), types.ErrPatientNotFound)
	// a grant past the new epoch is refused, and so is one from another patient's consent
	assertErr(t, rotate(alice, []string{"lab-result"}, types.KeyGrantUpdate{ConsentId: grant, KeyGrants: [][]byte{tk.KeyGrant("lab-result", 3)}}),
		types.ErrInvalidKeyGrant)
	assertErr(t, rotate(bob, []string{"lab-result"}, types.KeyGrantUpdate{ConsentId: grant, KeyGrants: [][]byte{tk.KeyGrant("lab-result", 2)}}),
		types.ErrInvalidKeyGrant)
	assertErr(t, rotate(alice, []string{"lab-result", "allergy"}, types.KeyGrantUpdate{ConsentId: grant, KeyGrants: [][]byte{tk.KeyGrant("lab-result", 2)}}), nil)
	for class, want := range map[string]uint64{"lab-result": 2, "allergy": 2, "diagnosis": 1} {
		if e, _ := f.Consent.ClassKeyEpoch(f.Ctx, aliceAddr, class); e != want {
			t.Fatalf("%s at epoch %d, want %d", class, e, want)
		}
	}
	c, _ := f.Consent.GetConsent(f.Ctx, grant)
	if len(c.KeyGrants) != 1 {
		t.Fatalf("the hospital's grants: %d", len(c.KeyGrants))
	}
	found := false
	for _, e := range f.Ctx.EventManager().Events() {
		found = found || e.Type == "healthd.consent.v1.EventClassKeysRotated"
	}
	if !found {
		t.Fatal("no EventClassKeysRotated")
	}
	// the escrow made before is now behind: a release still works (the old
	// key opens the old records), and the patient escrows again
	setCustodians(t, f, 2, custodians...)
	m := escrowMsg(t, f)
	assertErr(t, func() error { _, err := f.ConsentMsg.EscrowKeys(f.Ctx, m); return err }(), types.ErrInvalidEscrow) // epochs 1, current 2
	m.Classes[0].Epoch, m.Classes[1].Epoch = 2, 2
	_, err := f.ConsentMsg.EscrowKeys(f.Ctx, m)
	assertErr(t, err, nil)
}
