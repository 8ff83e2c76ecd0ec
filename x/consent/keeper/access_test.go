package keeper_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"cosmossdk.io/collections"

	sdk "github.com/cosmos/cosmos-sdk/types"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/consent/keeper"
	"github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
)

func authorAddr(name string) sdk.AccAddress {
	if name == "" {
		return nil
	}
	return mustAcc(tk.Address(name))
}

func authorString(name string) string {
	if name == "" {
		return ""
	}
	return tk.Address(name)
}

func joinEnd(c types.Consent) collections.Pair[int64, uint64] { return keeper.QueueKey(c) }

func TestCheckAccess(t *testing.T) {
	// consent 1 (from setup): alice → hospital, read, lab-result, TREAT,
	// [GenesisTime, +20d); the fixture's clock is at GenesisTime+1h.
	end := tk.GenesisTime.Add(20 * 24 * time.Hour)
	type req struct {
		grantee, class, perm, purpose string
		authored                      time.Time
		author                        string
	}
	base := req{hospital, "lab-result", "read", "TREAT", time.Time{}, ""}
	with := func(mod func(r *req)) req { r := base; mod(&r); return r }

	cases := []struct {
		name      string
		setup     func(t *testing.T, f *tk.ConsentFixture)
		at        time.Time
		req       req
		allowed   bool
		reason    types.AccessReason
		emergency bool
	}{
		{name: "covered by the consent", req: base, allowed: true, reason: types.ACCESS_REASON_CONSENT},
		{name: "the patient herself", req: with(func(r *req) { r.grantee = alice }), allowed: true, reason: types.ACCESS_REASON_PATIENT},
		{name: "other data class", req: with(func(r *req) { r.class = "diagnosis" }), reason: types.ACCESS_REASON_NOT_COVERED},
		{name: "other purpose", req: with(func(r *req) { r.purpose = "HRESCH" }), reason: types.ACCESS_REASON_NOT_COVERED},
		{name: "write with a read consent", req: with(func(r *req) { r.perm = "write" }), reason: types.ACCESS_REASON_NOT_COVERED},
		{name: "no consent at all", req: with(func(r *req) { r.grantee = lab }), reason: types.ACCESS_REASON_NO_CONSENT},
		{name: "one nanosecond before the end", at: end.Add(-time.Nanosecond), req: base, allowed: true, reason: types.ACCESS_REASON_CONSENT},
		{name: "exactly at the end", at: end, req: base, reason: types.ACCESS_REASON_EXPIRED},
		{name: "after the end, before EndBlock marked it", at: end.Add(time.Hour), req: base, reason: types.ACCESS_REASON_EXPIRED},
		{name: "marked expired by EndBlock", setup: func(t *testing.T, f *tk.ConsentFixture) {
			f.At(end)
			if err := f.Consent.EndBlocker(f.Ctx); err != nil {
				t.Fatal(err)
			}
		}, at: end, req: base, reason: types.ACCESS_REASON_EXPIRED},
		{name: "revoked", setup: func(t *testing.T, f *tk.ConsentFixture) {
			if _, err := f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: 1}); err != nil {
				t.Fatal(err)
			}
		}, req: base, reason: types.ACCESS_REASON_REVOKED},
		{name: "revoked, then granted again", setup: func(t *testing.T, f *tk.ConsentFixture) {
			if _, err := f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: 1}); err != nil {
				t.Fatal(err)
			}
			f.Grant(t, alice, hospital, time.Hour)
		}, req: base, allowed: true, reason: types.ACCESS_REASON_CONSENT},
		{name: "not started yet", setup: func(t *testing.T, f *tk.ConsentFixture) {
			if _, err := f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
				Signer: tk.Address(alice), Grantee: tk.Address(lab), Permissions: []string{"read"}, DataClasses: []string{"lab-result"},
				Purposes: []string{"TREAT"}, Start: tk.GenesisTime.Add(48 * time.Hour), Duration: time.Hour,
			}); err != nil {
				t.Fatal(err)
			}
		}, req: with(func(r *req) { r.grantee = lab }), reason: types.ACCESS_REASON_NOT_STARTED},
		{name: "suspended provider, consent still active", setup: func(t *testing.T, f *tk.ConsentFixture) {
			f.SetProvider(t, tk.ValidProvider(hospital, providerstypes.PROVIDER_STATUS_SUSPENDED))
		}, req: base, reason: types.ACCESS_REASON_PROVIDER_INACTIVE},
		{name: "provider whose credential expired", at: tk.GenesisTime.Add(10 * 24 * time.Hour), setup: func(t *testing.T, f *tk.ConsentFixture) {
			p := tk.ValidProvider(hospital, providerstypes.PROVIDER_STATUS_ACTIVE)
			p.CredentialExpiresAt = tk.GenesisTime.Add(2 * time.Hour)
			f.SetProvider(t, p)
		}, req: base, reason: types.ACCESS_REASON_PROVIDER_INACTIVE},
		{name: "grantee that is a patient", setup: func(t *testing.T, f *tk.ConsentFixture) {
			f.Grant(t, alice, bob, time.Hour)
		}, req: with(func(r *req) { r.grantee = bob }), allowed: true, reason: types.ACCESS_REASON_CONSENT},
		{
			name: "emergency access for ETREAT", setup: breakGlass(lab), req: with(func(r *req) { r.grantee = lab; r.purpose = "ETREAT"; r.class = "genomic" }),
			allowed: true, reason: types.ACCESS_REASON_CONSENT, emergency: true,
		},
		{name: "emergency access is not for TREAT", setup: breakGlass(lab), req: with(func(r *req) { r.grantee = lab }), reason: types.ACCESS_REASON_NOT_COVERED},
		{
			name: "emergency access after its TTL", setup: breakGlass(lab), at: tk.GenesisTime.Add(3 * time.Hour),
			req: with(func(r *req) { r.grantee = lab; r.purpose = "ETREAT" }), reason: types.ACCESS_REASON_EXPIRED,
		},
		{name: "emergency access of a provider suspended for abuse", setup: func(t *testing.T, f *tk.ConsentFixture) {
			breakGlass(lab)(t, f)
			if _, err := f.ConsentMsg.ReviewEmergencyAccess(f.Ctx, &types.MsgReviewEmergencyAccess{
				Reviewer: tk.Address("registrar"), ConsentId: 2, Verdict: types.REVIEW_STATE_ABUSIVE,
			}); err != nil {
				t.Fatal(err)
			}
		}, req: with(func(r *req) { r.grantee = lab; r.purpose = "ETREAT" }), reason: types.ACCESS_REASON_PROVIDER_INACTIVE},
		{name: "the author reads its own record without a consent", req: with(func(r *req) { r.grantee = lab; r.author = lab }), allowed: true, reason: types.ACCESS_REASON_AUTHOR},
		{name: "the author has no write exemption", req: with(func(r *req) { r.grantee = lab; r.author = lab; r.perm = "write" }), reason: types.ACCESS_REASON_NO_CONSENT},
		{name: "someone else's record is no author read", req: with(func(r *req) { r.grantee = lab; r.author = hospital }), reason: types.ACCESS_REASON_NO_CONSENT},
		{name: "a suspended provider that is also a patient reads nothing it authored", setup: func(t *testing.T, f *tk.ConsentFixture) {
			f.SetProvider(t, tk.ValidProvider(lab, providerstypes.PROVIDER_STATUS_SUSPENDED))
			if _, err := f.ConsentMsg.RegisterPatient(f.Ctx, &types.MsgRegisterPatient{Patient: tk.Address(lab), EncryptionKey: tk.EncryptionKey(lab)}); err != nil {
				t.Fatal(err)
			}
		}, req: with(func(r *req) { r.grantee = lab; r.author = lab }), reason: types.ACCESS_REASON_PROVIDER_INACTIVE},
		{name: "data period: record authored inside", setup: dataPeriodConsent, req: with(func(r *req) {
			r.grantee = lab
			r.authored = tk.GenesisTime.Add(-24 * time.Hour)
		}), allowed: true, reason: types.ACCESS_REASON_CONSENT},
		{name: "data period: record authored after it", setup: dataPeriodConsent, req: with(func(r *req) {
			r.grantee = lab
			r.authored = tk.GenesisTime.Add(time.Minute)
		}), reason: types.ACCESS_REASON_NOT_COVERED},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := setup(t)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			if !tc.at.IsZero() {
				f.At(tc.at)
			}
			d, err := f.Consent.CheckAccess(f.Ctx, mustAcc(tk.Address(alice)), mustAcc(tk.Address(tc.req.grantee)),
				tc.req.class, tc.req.perm, tc.req.purpose, tc.req.authored, authorAddr(tc.req.author))
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allowed || d.Reason != tc.reason || d.Emergency != tc.emergency || (d.Allowed != (d.ConsentID != 0) && d.Reason != types.ACCESS_REASON_PATIENT && d.Reason != types.ACCESS_REASON_AUTHOR) {
				t.Fatalf("decision = %+v, want allowed=%v reason=%s emergency=%v", d, tc.allowed, tc.reason, tc.emergency)
			}
			// the query answers the same
			resp, err := f.ConsentQuery.CheckAccess(f.Ctx, &types.QueryCheckAccessRequest{
				Patient: tk.Address(alice), Grantee: tk.Address(tc.req.grantee), DataClass: tc.req.class,
				Permission: tc.req.perm, Purpose: tc.req.purpose, AuthoredAt: tc.req.authored, Author: authorString(tc.req.author),
			})
			if err != nil || resp.Allowed != d.Allowed || resp.Reason != d.Reason || resp.ConsentId != d.ConsentID {
				t.Fatalf("query = %+v, %v; keeper = %+v", resp, err, d)
			}
		})
	}

	t.Run("invalid requests are errors, not denials", func(t *testing.T) {
		f, _ := setup(t)
		for _, r := range []req{with(func(r *req) { r.class = "x" }), with(func(r *req) { r.perm = "x" }), with(func(r *req) { r.purpose = "x" })} {
			if _, err := f.Consent.CheckAccess(f.Ctx, mustAcc(tk.Address(alice)), mustAcc(tk.Address(hospital)), r.class, r.perm, r.purpose, time.Time{}, nil); !types.ErrInvalidAccessRequest.Is(err) {
				t.Errorf("%+v: error %v, want ErrInvalidAccessRequest", r, err)
			}
		}
	})
}

func breakGlass(provider string) func(t *testing.T, f *tk.ConsentFixture) {
	return func(t *testing.T, f *tk.ConsentFixture) {
		if _, err := f.ConsentMsg.BreakGlass(f.Ctx, &types.MsgBreakGlass{
			Provider: tk.Address(provider), Patient: tk.Address(alice), Reason: types.EMERGENCY_REASON_UNCONSCIOUS_PATIENT,
			Note: "ED admission", Duration: time.Hour,
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func dataPeriodConsent(t *testing.T, f *tk.ConsentFixture) {
	if _, err := f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
		Signer: tk.Address(alice), Grantee: tk.Address(lab), Permissions: []string{"read"}, DataClasses: []string{"lab-result"},
		Purposes: []string{"TREAT"}, Duration: 24 * time.Hour,
		DataPeriod: &types.Period{Start: tk.GenesisTime.Add(-365 * 24 * time.Hour), End: tk.GenesisTime},
	}); err != nil {
		t.Fatal(err)
	}
}

// TestMassExpiry: 5,000 consents ending in the same second are all denied at that
// second, and EndBlock marks them expired at most max_prunes_per_block per block.
func TestMassExpiry(t *testing.T) {
	// given 5,000 consents from 50 patients to hospital, all ending at the same time
	f := tk.NewConsentFixture(t)
	const n, patients = 5000, 50
	end := tk.GenesisTime.Add(time.Hour)
	for p := range patients {
		f.RegisterPatient(t, fmt.Sprintf("p%02d", p))
	}
	for i := range n {
		if _, err := f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
			Signer: tk.Address(fmt.Sprintf("p%02d", i%patients)), Grantee: tk.Address(hospital), Permissions: []string{"read"},
			DataClasses: []string{"lab-result"}, Purposes: []string{"TREAT"}, Duration: time.Hour,
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(allowed bool) {
		t.Helper()
		for p := range patients {
			d, err := f.Consent.CheckAccess(f.Ctx, mustAcc(tk.Address(fmt.Sprintf("p%02d", p))), mustAcc(tk.Address(hospital)), "lab-result", "read", "TREAT", time.Time{}, nil)
			if err != nil || d.Allowed != allowed {
				t.Fatalf("patient %d at %s: %+v %v, want allowed=%v", p, f.Ctx.BlockTime(), d, err, allowed)
			}
		}
	}
	f.At(end.Add(-time.Second))
	check(true)

	// when the block time reaches the end, every one is denied at once, before any pruning
	f.At(end)
	check(false)
	for id := uint64(1); id <= n; id++ {
		resp, err := f.ConsentQuery.Consent(f.Ctx, &types.QueryConsentRequest{Id: id})
		if err != nil || resp.Consent.Status != types.CONSENT_STATUS_EXPIRED {
			t.Fatalf("consent %d shown as %v (%v), want expired", id, resp.GetConsent().Status, err)
		}
	}

	// then EndBlock marks them, never more than the cap in one block
	cap := int(types.DefaultMaxPrunesPerBlock)
	marked, blocks := 0, 0
	for marked < n {
		blocks++
		f.Ctx = f.Ctx.WithEventManager(sdk.NewEventManager()).WithBlockHeight(int64(blocks + 1))
		if err := f.Consent.EndBlocker(f.Ctx); err != nil {
			t.Fatal(err)
		}
		events := 0
		for _, e := range f.Ctx.EventManager().Events() {
			if e.Type == "healthd.consent.v1.EventConsentExpired" {
				events++
			}
		}
		if events > cap || events == 0 {
			t.Fatalf("block %d marked %d consents, want 1-%d", blocks, events, cap)
		}
		marked += events
		stored := 0
		for id := uint64(1); id <= n; id++ {
			if c, _ := f.Consent.GetConsent(f.Ctx, id); c.Status == types.CONSENT_STATUS_EXPIRED {
				stored++
			}
		}
		if stored != marked {
			t.Fatalf("after block %d: %d stored expired, %d events", blocks, stored, marked)
		}
	}
	if blocks != n/cap {
		t.Fatalf("took %d blocks, want %d", blocks, n/cap)
	}
	if has, _ := f.Consent.ExpiryQueue.Has(f.Ctx, keeper.QueueKey(types.Consent{Id: n, Period: types.Period{End: end}})); has {
		t.Fatal("the queue still holds consents")
	}
}

func TestGenesis(t *testing.T) {
	// given state built through the messages: patients, delegates, consents of
	// every status, an emergency access
	f, _ := setup(t)
	f.Grant(t, alice, lab, time.Hour)
	breakGlass(lab)(t, f)
	if _, err := f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: 2}); err != nil {
		t.Fatal(err)
	}
	f.At(tk.GenesisTime.Add(5 * time.Hour))
	if err := f.Consent.EndBlocker(f.Ctx); err != nil {
		t.Fatal(err)
	}
	// and a class key two revocations along
	aliceAddr, _ := tk.AddressCodec.StringToBytes(tk.Address(alice))
	if err := f.Consent.KeyEpochs.Set(f.Ctx, collections.Join(sdk.AccAddress(aliceAddr), "lab-result"), 3); err != nil {
		t.Fatal(err)
	}

	// when exported, validated and imported into a fresh keeper
	exported, err := f.Consent.ExportGenesis(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := exported.Validate(tk.AddressCodec); err != nil {
		t.Fatalf("export does not validate: %v", err)
	}
	g := tk.NewConsentFixture(t)
	if err := g.Consent.InitGenesis(g.Ctx, exported); err != nil {
		t.Fatal(err)
	}
	again, err := g.Consent.ExportGenesis(g.Ctx)
	if err != nil {
		t.Fatal(err)
	}

	// then the re-export is identical, and indexes and queue were rebuilt
	if !bytes.Equal(f.Codec.MustMarshalJSON(exported), g.Codec.MustMarshalJSON(again)) {
		t.Fatal("export differs after import")
	}
	statuses := map[types.ConsentStatus]int{}
	for _, c := range exported.Consents {
		statuses[c.Status]++
	}
	if statuses[types.CONSENT_STATUS_ACTIVE] != 1 || statuses[types.CONSENT_STATUS_REVOKED] != 1 || statuses[types.CONSENT_STATUS_EXPIRED] != 1 || exported.NextConsentId != 4 {
		t.Fatalf("exported statuses %v, next id %d", statuses, exported.NextConsentId)
	}
	resp, err := g.ConsentQuery.ConsentsByPatient(g.Ctx, &types.QueryConsentsByPatientRequest{Patient: tk.Address(alice), Status: types.CONSENT_STATUS_ACTIVE})
	if err != nil || len(resp.Consents) != 1 || resp.Consents[0].Id != 1 {
		t.Fatalf("active consents of alice after import = %+v, %v", resp, err)
	}
	em, err := g.ConsentQuery.EmergencyAccesses(g.Ctx, &types.QueryEmergencyAccessesRequest{Patient: tk.Address(alice)})
	if err != nil || len(em.Consents) != 1 || em.Consents[0].Id != 3 {
		t.Fatalf("emergency accesses after import = %+v, %v", em, err)
	}
	if has, _ := g.Consent.ExpiryQueue.Has(g.Ctx, joinEnd(exported.Consents[0])); !has {
		t.Fatal("the active consent's expiry was not queued on import")
	}
	if e, _ := g.Consent.ClassKeyEpoch(g.Ctx, aliceAddr, "lab-result"); e != 3 || len(exported.KeyEpochs) != 1 {
		t.Fatalf("lab-result epoch after import = %d, exported %+v", e, exported.KeyEpochs)
	}

	// and invalid genesis states are refused
	bad := []func(gs *types.GenesisState){
		func(gs *types.GenesisState) { gs.Consents = append(gs.Consents, gs.Consents[0]) },
		func(gs *types.GenesisState) { gs.NextConsentId = 2 },
		func(gs *types.GenesisState) { gs.Consents[0].Patient = tk.Address(sam) },
		func(gs *types.GenesisState) { gs.Consents[0].DataClasses = []string{"x"} },
		func(gs *types.GenesisState) { gs.Consents[0].RevokedAt = tk.GenesisTime },
		func(gs *types.GenesisState) { gs.Consents[2].Purposes = []string{"TREAT"} },
		func(gs *types.GenesisState) { gs.Patients = append(gs.Patients, gs.Patients[0]) },
		func(gs *types.GenesisState) { gs.Patients[0].EncryptionKey = []byte{1} },
		func(gs *types.GenesisState) { gs.Params.MaxPrunesPerBlock = 0 },
		func(gs *types.GenesisState) { gs.KeyEpochs[0].Epoch = 1 },
		func(gs *types.GenesisState) { gs.KeyEpochs[0].DataClass = "x" },
		func(gs *types.GenesisState) { gs.KeyEpochs[0].Patient = tk.Address(sam) },
		func(gs *types.GenesisState) { gs.KeyEpochs = append(gs.KeyEpochs, gs.KeyEpochs[0]) },
	}
	for i, mod := range bad {
		gs, _ := f.Consent.ExportGenesis(f.Ctx)
		mod(gs)
		if err := gs.Validate(tk.AddressCodec); err == nil {
			t.Errorf("invalid genesis %d accepted", i)
		}
	}
}
