package keeper_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/crypto"
	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
)

// The cast: alice is the patient; dana her live delegate, eve her delegate whose
// delegation expired; hospital an active provider that alice consented to; sam a
// stranger; lab another active provider; bob another registered patient.
const (
	alice    = "alice"
	dana     = "dana"
	eve      = "eve"
	hospital = "hospital"
	lab      = "lab"
	sam      = "sam"
	bob      = "bob"
)

var roles = []string{alice, dana, eve, hospital, sam}

// setup builds the cast at GenesisTime+1h: eve's delegation ended at +30m.
func setup(t testing.TB) (*tk.ConsentFixture, uint64) {
	t.Helper()
	f := tk.NewConsentFixture(t)
	f.RegisterPatient(t, alice)
	f.RegisterPatient(t, bob)
	for _, d := range []struct {
		name string
		exp  time.Duration
	}{{dana, 30 * 24 * time.Hour}, {eve, 30 * time.Minute}} {
		if _, err := f.ConsentMsg.AddDelegate(f.Ctx, &types.MsgAddDelegate{
			Patient: tk.Address(alice), Delegate: tk.Address(d.name), ExpiresAt: tk.GenesisTime.Add(d.exp),
		}); err != nil {
			t.Fatal(err)
		}
	}
	// 20 days: ends before the fixture providers' credentials (30 days).
	id := f.Grant(t, alice, hospital, 20*24*time.Hour)
	f.At(tk.GenesisTime.Add(time.Hour))
	f.Ctx = f.Ctx.WithEventManager(sdk.NewEventManager())
	return f, id
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

func stateJSON(t *testing.T, f *tk.ConsentFixture) []byte {
	t.Helper()
	gs, err := f.Consent.ExportGenesis(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f.Codec.MustMarshalJSON(gs)
}

// TestSignerMatrix runs every message with each role as signer and checks who is
// allowed, and that a refusal leaves the state untouched.
func TestSignerMatrix(t *testing.T) {
	type row struct {
		msg  string
		run  func(f *tk.ConsentFixture, signer string, id uint64) error
		want map[string]*errorsmod.Error // nil: allowed
	}
	allowOnly := func(allowed []string, refused *errorsmod.Error) map[string]*errorsmod.Error {
		m := map[string]*errorsmod.Error{}
		for _, r := range roles {
			m[r] = refused
		}
		for _, a := range allowed {
			m[a] = nil
		}
		return m
	}
	rows := []row{
		{"GrantConsent", func(f *tk.ConsentFixture, s string, _ uint64) error {
			_, err := f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
				Signer: tk.Address(s), Patient: tk.Address(alice), Grantee: tk.Address(lab), Permissions: []string{"read"},
				DataClasses: []string{"diagnosis"}, Purposes: []string{"TREAT"}, Duration: time.Hour,
			})
			return err
		}, allowOnly([]string{alice, dana}, types.ErrUnauthorized)},
		{"RevokeConsent", func(f *tk.ConsentFixture, s string, id uint64) error {
			_, err := f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{Signer: tk.Address(s), ConsentId: id})
			return err
		}, allowOnly([]string{alice, dana}, types.ErrUnauthorized)},
		{"BreakGlass", func(f *tk.ConsentFixture, s string, _ uint64) error {
			_, err := f.ConsentMsg.BreakGlass(f.Ctx, &types.MsgBreakGlass{
				Provider: tk.Address(s), Patient: tk.Address(alice), Reason: types.EMERGENCY_REASON_UNCONSCIOUS_PATIENT,
				Note: "ED admission", Duration: time.Hour,
			})
			return err
		}, map[string]*errorsmod.Error{alice: types.ErrProviderNotActive, dana: types.ErrProviderNotActive, eve: types.ErrProviderNotActive, hospital: nil, sam: types.ErrProviderNotActive}},
		{"ReviewEmergencyAccess", func(f *tk.ConsentFixture, s string, _ uint64) error {
			resp, err := f.ConsentMsg.BreakGlass(f.Ctx, &types.MsgBreakGlass{
				Provider: tk.Address(lab), Patient: tk.Address(alice), Reason: types.EMERGENCY_REASON_LIFE_THREATENING, Note: "x", Duration: time.Hour,
			})
			if err != nil {
				return err
			}
			_, err = f.ConsentMsg.ReviewEmergencyAccess(f.Ctx, &types.MsgReviewEmergencyAccess{Reviewer: tk.Address(s), ConsentId: resp.Id, Verdict: types.REVIEW_STATE_JUSTIFIED})
			return err
		}, allowOnly(nil, types.ErrUnauthorized)},
		// The profile messages act on the signer's own profile: the only way to
		// name alice's profile is to be alice. Others reach their own (absent)
		// profile, and alice's stays untouched.
		{"UpdatePatient", func(f *tk.ConsentFixture, s string, _ uint64) error {
			_, err := f.ConsentMsg.UpdatePatient(f.Ctx, &types.MsgUpdatePatient{Patient: tk.Address(s), EncryptionKey: tk.EncryptionKey("new")})
			return err
		}, allowOnly([]string{alice}, types.ErrPatientNotFound)},
		{"AddDelegate", func(f *tk.ConsentFixture, s string, _ uint64) error {
			_, err := f.ConsentMsg.AddDelegate(f.Ctx, &types.MsgAddDelegate{Patient: tk.Address(s), Delegate: tk.Address(bob), ExpiresAt: tk.GenesisTime.Add(48 * time.Hour)})
			return err
		}, allowOnly([]string{alice}, types.ErrPatientNotFound)},
		{"RemoveDelegate", func(f *tk.ConsentFixture, s string, _ uint64) error {
			_, err := f.ConsentMsg.RemoveDelegate(f.Ctx, &types.MsgRemoveDelegate{Patient: tk.Address(s), Delegate: tk.Address(dana)})
			return err
		}, allowOnly([]string{alice}, types.ErrPatientNotFound)},
		{"RegisterPatient", func(f *tk.ConsentFixture, s string, _ uint64) error {
			_, err := f.ConsentMsg.RegisterPatient(f.Ctx, &types.MsgRegisterPatient{Patient: tk.Address(s), EncryptionKey: tk.EncryptionKey(s)})
			return err
		}, map[string]*errorsmod.Error{alice: types.ErrPatientExists, dana: nil, eve: nil, hospital: nil, sam: nil}},
		{"UpdateParams", func(f *tk.ConsentFixture, s string, _ uint64) error {
			_, err := f.ConsentMsg.UpdateParams(f.Ctx, &types.MsgUpdateParams{Authority: tk.Address(s), Params: types.DefaultParams()})
			return err
		}, allowOnly(nil, types.ErrUnauthorized)},
	}
	for _, r := range rows {
		for _, role := range roles {
			t.Run(r.msg+"/"+role, func(t *testing.T) {
				f, id := setup(t)
				before := stateJSON(t, f)
				err := r.run(f, role, id)
				assertErr(t, err, r.want[role])
				if r.want[role] != nil && r.msg != "ReviewEmergencyAccess" {
					if !bytes.Equal(before, stateJSON(t, f)) {
						t.Fatal("a refused message changed the state")
					}
				}
			})
		}
	}
}

func TestReviewByRegistrarAndAuthority(t *testing.T) {
	for _, reviewer := range []string{tk.Address("registrar"), tk.Authority()} {
		// given an emergency access by lab
		f, _ := setup(t)
		resp, err := f.ConsentMsg.BreakGlass(f.Ctx, &types.MsgBreakGlass{
			Provider: tk.Address(lab), Patient: tk.Address(alice), Reason: types.EMERGENCY_REASON_LIFE_THREATENING, Note: "x", Duration: time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		// when the reviewer judges it abusive
		if _, err := f.ConsentMsg.ReviewEmergencyAccess(f.Ctx, &types.MsgReviewEmergencyAccess{Reviewer: reviewer, ConsentId: resp.Id, Verdict: types.REVIEW_STATE_ABUSIVE}); err != nil {
			t.Fatal(err)
		}
		// then the access is revoked, reviewed abusive, and lab is suspended for it
		c, _ := f.Consent.GetConsent(f.Ctx, resp.Id)
		p, _ := f.Provider(t, lab)
		if c.Status != types.CONSENT_STATUS_REVOKED || c.Review != types.REVIEW_STATE_ABUSIVE ||
			p.Status != providerstypes.PROVIDER_STATUS_SUSPENDED || p.StatusReason != providerstypes.STATUS_REASON_EMERGENCY_ACCESS_ABUSE {
			t.Fatalf("consent %s/%s, provider %s/%s", c.Status, c.Review, p.Status, p.StatusReason)
		}
		// and a second review is refused
		_, err = f.ConsentMsg.ReviewEmergencyAccess(f.Ctx, &types.MsgReviewEmergencyAccess{Reviewer: reviewer, ConsentId: resp.Id, Verdict: types.REVIEW_STATE_JUSTIFIED})
		assertErr(t, err, types.ErrAlreadyReviewed)
	}
}

func TestGrantConsent(t *testing.T) {
	grant := func(mod func(m *types.MsgGrantConsent)) *types.MsgGrantConsent {
		m := &types.MsgGrantConsent{
			Signer: tk.Address(alice), Grantee: tk.Address(lab), Permissions: []string{"read", "write"},
			DataClasses: []string{"lab-result", "diagnosis"}, Purposes: []string{"TREAT"}, Duration: 24 * time.Hour,
		}
		mod(m)
		return m
	}
	cases := []struct {
		name   string
		setup  func(t *testing.T, f *tk.ConsentFixture)
		msg    *types.MsgGrantConsent
		expErr *errorsmod.Error
	}{
		{"valid", nil, grant(func(*types.MsgGrantConsent) {}), nil},
		{"grantee is a registered patient", nil, grant(func(m *types.MsgGrantConsent) { m.Grantee = tk.Address(bob) }), nil},
		{"future start", nil, grant(func(m *types.MsgGrantConsent) { m.Start = tk.GenesisTime.Add(48 * time.Hour) }), nil},
		{"with a data period", nil, grant(func(m *types.MsgGrantConsent) {
			m.DataPeriod = &types.Period{Start: tk.GenesisTime.Add(-365 * 24 * time.Hour), End: tk.GenesisTime}
		}), nil},
		{"unknown data class", nil, grant(func(m *types.MsgGrantConsent) { m.DataClasses = []string{"x-ray"} }), types.ErrInvalidDataClass},
		{"no data class", nil, grant(func(m *types.MsgGrantConsent) { m.DataClasses = nil }), types.ErrInvalidDataClass},
		{"duplicate data class", nil, grant(func(m *types.MsgGrantConsent) { m.DataClasses = []string{"allergy", "allergy"} }), types.ErrInvalidDataClass},
		{"unknown purpose", nil, grant(func(m *types.MsgGrantConsent) { m.Purposes = []string{"treat"} }), types.ErrInvalidPurpose},
		{"unknown permission", nil, grant(func(m *types.MsgGrantConsent) { m.Permissions = []string{"delete"} }), types.ErrInvalidPermission},
		{"zero duration", nil, grant(func(m *types.MsgGrantConsent) { m.Duration = 0 }), types.ErrInvalidPeriod},
		{"duration beyond the max", nil, grant(func(m *types.MsgGrantConsent) { m.Duration = types.DefaultMaxConsentDuration + time.Hour }), types.ErrInvalidPeriod},
		{"start in the past", nil, grant(func(m *types.MsgGrantConsent) { m.Start = tk.GenesisTime }), types.ErrInvalidPeriod},
		{"start a few seconds before the block (a client's now)", nil, grant(func(m *types.MsgGrantConsent) {
			m.Start = tk.GenesisTime.Add(time.Hour - 7*time.Second)
		}), nil},
		{"start just past the allowed skew", nil, grant(func(m *types.MsgGrantConsent) {
			m.Start = tk.GenesisTime.Add(time.Hour - types.MaxStartSkew - time.Second)
		}), types.ErrInvalidPeriod},
		{"inverted data period", nil, grant(func(m *types.MsgGrantConsent) {
			m.DataPeriod = &types.Period{Start: tk.GenesisTime, End: tk.GenesisTime.Add(-time.Hour)}
		}), types.ErrInvalidPeriod},
		{"oversized key grant", nil, grant(func(m *types.MsgGrantConsent) { m.KeyGrants = [][]byte{make([]byte, types.MaxKeyGrantSize+1)} }), types.ErrInvalidKeyGrant},
		{"too many key grants", nil, grant(func(m *types.MsgGrantConsent) { m.KeyGrants = make([][]byte, types.MaxKeyGrants+1) }), types.ErrInvalidKeyGrant},
		{"the patient's key grants", nil, grant(func(m *types.MsgGrantConsent) {
			m.KeyGrants = [][]byte{tk.KeyGrant("lab-result", 1), tk.KeyGrant("diagnosis", 1)}
		}), nil},
		{"key grants from a delegate", nil, grant(func(m *types.MsgGrantConsent) {
			m.Signer, m.Patient, m.KeyGrants = tk.Address(dana), tk.Address(alice), [][]byte{tk.KeyGrant("lab-result", 1)}
		}), types.ErrUnauthorized},
		{"a key grant that is not one", nil, grant(func(m *types.MsgGrantConsent) { m.KeyGrants = [][]byte{[]byte("wrapped class key")} }), types.ErrInvalidKeyGrant},
		{"a key grant for a class the consent does not cover", nil, grant(func(m *types.MsgGrantConsent) {
			m.KeyGrants = [][]byte{tk.KeyGrant("mental-health", 1)}
		}), types.ErrInvalidKeyGrant},
		{"a key grant for a later epoch than the patient's", nil, grant(func(m *types.MsgGrantConsent) {
			m.KeyGrants = [][]byte{tk.KeyGrant("lab-result", 2)}
		}), types.ErrInvalidKeyGrant},
		{"a key grant past the last epoch", nil, grant(func(m *types.MsgGrantConsent) {
			m.KeyGrants = [][]byte{tk.KeyGrant("lab-result", crypto.MaxKeyEpoch+1)}
		}), types.ErrInvalidKeyGrant},
		{"grantee is the patient", nil, grant(func(m *types.MsgGrantConsent) { m.Grantee = tk.Address(alice) }), types.ErrInvalidGrantee},
		{"grantee is neither provider nor patient", nil, grant(func(m *types.MsgGrantConsent) { m.Grantee = tk.Address(sam) }), types.ErrInvalidGrantee},
		{"grantee is a suspended provider", func(t *testing.T, f *tk.ConsentFixture) {
			f.SetProvider(t, tk.ValidProvider(lab, providerstypes.PROVIDER_STATUS_SUSPENDED))
		}, grant(func(*types.MsgGrantConsent) {}), types.ErrInvalidGrantee},
		{"unregistered patient", nil, grant(func(m *types.MsgGrantConsent) { m.Signer = tk.Address(sam) }), types.ErrPatientNotFound},
		{"malformed grantee", nil, grant(func(m *types.MsgGrantConsent) { m.Grantee = "health1nope" }), types.ErrInvalidAddress},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := setup(t)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			resp, err := f.ConsentMsg.GrantConsent(f.Ctx, tc.msg)
			assertErr(t, err, tc.expErr)
			if tc.expErr != nil {
				return
			}
			c, err := f.Consent.GetConsent(f.Ctx, resp.Id)
			if err != nil {
				t.Fatal(err)
			}
			wantStart := tc.msg.Start
			if wantStart.Before(f.Ctx.BlockTime()) { // empty, or a client's "now": the block time
				wantStart = f.Ctx.BlockTime()
			}
			if c.Status != types.CONSENT_STATUS_ACTIVE || c.Patient != tk.Address(alice) || !c.Period.Start.Equal(wantStart) ||
				!c.Period.End.Equal(wantStart.Add(tc.msg.Duration)) || c.GrantedBy != tc.msg.Signer {
				t.Fatalf("consent = %+v", c)
			}
			if has, _ := f.Consent.ExpiryQueue.Has(f.Ctx, joinEnd(c)); !has {
				t.Fatal("the consent's end is not queued")
			}
		})
	}
}

func TestRevokeConsent(t *testing.T) {
	t.Run("revoking stops access, takes it off the queue, and rotates other grants", func(t *testing.T) {
		f, id := setup(t)
		other := f.Grant(t, alice, lab, time.Hour*48)
		newGrant := tk.KeyGrant("lab-result", 1)
		_, err := f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{
			Signer: tk.Address(alice), ConsentId: id,
			RotatedKeyGrants: []types.KeyGrantUpdate{{ConsentId: other, KeyGrants: [][]byte{newGrant}}},
		})
		assertErr(t, err, nil)
		c, _ := f.Consent.GetConsent(f.Ctx, id)
		o, _ := f.Consent.GetConsent(f.Ctx, other)
		if c.Status != types.CONSENT_STATUS_REVOKED || !c.RevokedAt.Equal(f.Ctx.BlockTime()) || len(o.KeyGrants) != 1 || !bytes.Equal(o.KeyGrants[0], newGrant) {
			t.Fatalf("revoked %+v, rotated %+v", c, o)
		}
		if has, _ := f.Consent.ExpiryQueue.Has(f.Ctx, joinEnd(c)); has {
			t.Fatal("a revoked consent is still queued")
		}
	})
	cases := []struct {
		name   string
		msg    func(id uint64) *types.MsgRevokeConsent
		setup  func(t *testing.T, f *tk.ConsentFixture, id uint64)
		expErr *errorsmod.Error
	}{
		{"unknown consent", func(uint64) *types.MsgRevokeConsent {
			return &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: 999}
		}, nil, types.ErrConsentNotFound},
		{"already revoked", func(id uint64) *types.MsgRevokeConsent {
			return &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: id}
		}, func(t *testing.T, f *tk.ConsentFixture, id uint64) {
			if _, err := f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: id}); err != nil {
				t.Fatal(err)
			}
		}, types.ErrNotActive},
		{"already ended", func(id uint64) *types.MsgRevokeConsent {
			return &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: id}
		}, func(t *testing.T, f *tk.ConsentFixture, _ uint64) { f.At(tk.GenesisTime.Add(21 * 24 * time.Hour)) }, types.ErrNotActive},
		{"rotating grants of another patient's consent", func(id uint64) *types.MsgRevokeConsent {
			// id+1 is bob's consent, granted in setup below
			return &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: id, RotatedKeyGrants: []types.KeyGrantUpdate{{ConsentId: id + 1, KeyGrants: [][]byte{tk.KeyGrant("lab-result", 1)}}}}
		}, func(t *testing.T, f *tk.ConsentFixture, id uint64) {
			if got := f.Grant(t, bob, lab, time.Hour); got != id+1 {
				t.Fatalf("bob's consent id = %d, want %d", got, id+1)
			}
		}, types.ErrInvalidKeyGrant},
		{"a delegate replacing key grants", func(id uint64) *types.MsgRevokeConsent {
			return &types.MsgRevokeConsent{Signer: tk.Address(dana), ConsentId: id, RotatedKeyGrants: []types.KeyGrantUpdate{{ConsentId: id + 1, KeyGrants: [][]byte{tk.KeyGrant("lab-result", 1)}}}}
		}, func(t *testing.T, f *tk.ConsentFixture, id uint64) { f.Grant(t, alice, lab, time.Hour) }, types.ErrUnauthorized},
		{"rotated grants for a later epoch than the rotation gives", func(id uint64) *types.MsgRevokeConsent {
			return &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: id, RotatedKeyGrants: []types.KeyGrantUpdate{{ConsentId: id + 1, KeyGrants: [][]byte{tk.KeyGrant("lab-result", 2)}}}}
		}, func(t *testing.T, f *tk.ConsentFixture, id uint64) { f.Grant(t, alice, lab, time.Hour) }, types.ErrInvalidKeyGrant},
		{"rotating the revoked consent itself", func(id uint64) *types.MsgRevokeConsent {
			return &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: id, RotatedKeyGrants: []types.KeyGrantUpdate{{ConsentId: id, KeyGrants: [][]byte{tk.KeyGrant("lab-result", 1)}}}}
		}, nil, types.ErrInvalidKeyGrant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, id := setup(t)
			if tc.setup != nil {
				tc.setup(t, f, id)
			}
			_, err := f.ConsentMsg.RevokeConsent(f.Ctx, tc.msg(id))
			assertErr(t, err, tc.expErr)
		})
	}
}

func TestBreakGlass(t *testing.T) {
	bg := func(mod func(m *types.MsgBreakGlass)) *types.MsgBreakGlass {
		m := &types.MsgBreakGlass{
			Provider: tk.Address(lab), Patient: tk.Address(alice), Reason: types.EMERGENCY_REASON_UNCONSCIOUS_PATIENT,
			Note: "ED admission, unresponsive", Duration: 2 * time.Hour,
		}
		mod(m)
		return m
	}
	t.Run("an active provider opens a pending-review emergency consent for ETREAT", func(t *testing.T) {
		f, _ := setup(t)
		resp, err := f.ConsentMsg.BreakGlass(f.Ctx, bg(func(*types.MsgBreakGlass) {}))
		assertErr(t, err, nil)
		c, _ := f.Consent.GetConsent(f.Ctx, resp.Id)
		if !c.Emergency || c.Review != types.REVIEW_STATE_PENDING || len(c.Purposes) != 1 || c.Purposes[0] != "ETREAT" ||
			len(c.DataClasses) != len(types.DataClasses) || !c.Period.End.Equal(f.Ctx.BlockTime().Add(2*time.Hour)) {
			t.Fatalf("emergency consent = %+v", c)
		}
		var started bool
		for _, e := range f.Ctx.EventManager().Events() {
			if e.Type == "healthd.consent.v1.EventEmergencyAccessStarted" {
				started = true
				for _, a := range e.Attributes {
					if strings.Contains(a.Value, "unresponsive") {
						t.Fatalf("the note leaked into an event: %s", a.Value)
					}
				}
			}
		}
		if !started {
			t.Fatal("no start event")
		}
	})
	cases := []struct {
		name   string
		msg    *types.MsgBreakGlass
		setup  func(t *testing.T, f *tk.ConsentFixture)
		expErr *errorsmod.Error
	}{
		{"longer than max_emergency_duration", bg(func(m *types.MsgBreakGlass) { m.Duration = 5 * time.Hour }), nil, types.ErrInvalidEmergency},
		{"no reason code", bg(func(m *types.MsgBreakGlass) { m.Reason = types.EMERGENCY_REASON_UNSPECIFIED }), nil, types.ErrInvalidEmergency},
		{"note over 140 characters", bg(func(m *types.MsgBreakGlass) { m.Note = strings.Repeat("n", 141) }), nil, types.ErrInvalidEmergency},
		{"empty note", bg(func(m *types.MsgBreakGlass) { m.Note = "" }), nil, types.ErrInvalidEmergency},
		{"unregistered patient", bg(func(m *types.MsgBreakGlass) { m.Patient = tk.Address(sam) }), nil, types.ErrPatientNotFound},
		{"suspended provider", bg(func(*types.MsgBreakGlass) {}), func(t *testing.T, f *tk.ConsentFixture) {
			f.SetProvider(t, tk.ValidProvider(lab, providerstypes.PROVIDER_STATUS_SUSPENDED))
		}, types.ErrProviderNotActive},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := setup(t)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			_, err := f.ConsentMsg.BreakGlass(f.Ctx, tc.msg)
			assertErr(t, err, tc.expErr)
		})
	}
}

func TestDelegates(t *testing.T) {
	f, _ := setup(t)
	// an expired delegation frees its slot when the next delegate is added
	_, err := f.ConsentMsg.AddDelegate(f.Ctx, &types.MsgAddDelegate{Patient: tk.Address(alice), Delegate: tk.Address(bob), ExpiresAt: tk.GenesisTime.Add(72 * time.Hour)})
	assertErr(t, err, nil)
	p, _ := f.Consent.GetPatient(f.Ctx, mustAcc(tk.Address(alice)))
	if len(p.Delegates) != 2 || p.Delegates[0].Address != tk.Address(dana) || p.Delegates[1].Address != tk.Address(bob) {
		t.Fatalf("delegates = %+v, want dana and bob (eve expired)", p.Delegates)
	}
	for _, tc := range []struct {
		name   string
		msg    *types.MsgAddDelegate
		expErr *errorsmod.Error
	}{
		{"own delegate", &types.MsgAddDelegate{Patient: tk.Address(alice), Delegate: tk.Address(alice), ExpiresAt: tk.GenesisTime.Add(48 * time.Hour)}, types.ErrInvalidDelegate},
		{"expiry in the past", &types.MsgAddDelegate{Patient: tk.Address(alice), Delegate: tk.Address(sam), ExpiresAt: tk.GenesisTime}, types.ErrInvalidDelegate},
		{"no expiry", &types.MsgAddDelegate{Patient: tk.Address(alice), Delegate: tk.Address(sam)}, types.ErrInvalidDelegate},
	} {
		_, err := f.ConsentMsg.AddDelegate(f.Ctx, tc.msg)
		assertErr(t, err, tc.expErr)
	}
	for i := range types.MaxDelegates - 2 {
		if _, err := f.ConsentMsg.AddDelegate(f.Ctx, &types.MsgAddDelegate{Patient: tk.Address(alice), Delegate: tk.Address("d" + string(rune('a'+i))), ExpiresAt: tk.GenesisTime.Add(48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = f.ConsentMsg.AddDelegate(f.Ctx, &types.MsgAddDelegate{Patient: tk.Address(alice), Delegate: tk.Address(sam), ExpiresAt: tk.GenesisTime.Add(48 * time.Hour)})
	assertErr(t, err, types.ErrTooManyDelegates)
	_, err = f.ConsentMsg.RemoveDelegate(f.Ctx, &types.MsgRemoveDelegate{Patient: tk.Address(alice), Delegate: tk.Address(sam)})
	assertErr(t, err, types.ErrDelegateNotFound)
	_, err = f.ConsentMsg.UpdatePatient(f.Ctx, &types.MsgUpdatePatient{Patient: tk.Address(alice), EncryptionKey: []byte{1, 2, 3}})
	assertErr(t, err, types.ErrInvalidEncryptionKey)
}

func mustAcc(bech32 string) sdk.AccAddress {
	bz, err := tk.AddressCodec.StringToBytes(bech32)
	if err != nil {
		panic(err)
	}
	return bz
}

// TestKeyEpochsMoveOnlyByThePatient: a delegate's revoke ends the consent but
// moves no epoch (a delegate looping grant and revoke would otherwise push the
// patient's epochs past the last one clients derive); the patient's revoke
// moves them, and stops at crypto.MaxKeyEpoch instead of failing.
func TestKeyEpochsMoveOnlyByThePatient(t *testing.T) {
	f, _ := setup(t)
	keyed := func() uint64 {
		resp, err := f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
			Signer: tk.Address(alice), Grantee: tk.Address(lab), Permissions: []string{"read"}, DataClasses: []string{"lab-result"},
			Purposes: []string{"TREAT"}, Duration: time.Hour, KeyGrants: [][]byte{tk.KeyGrant("lab-result", 1)},
		})
		assertErr(t, err, nil)
		return resp.Id
	}
	epoch := func() uint64 {
		e, err := f.Consent.ClassKeyEpoch(f.Ctx, mustAcc(tk.Address(alice)), "lab-result")
		assertErr(t, err, nil)
		return e
	}

	// when dana, a delegate, revokes a keyed consent: revoked, epoch unchanged
	id := keyed()
	_, err := f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{Signer: tk.Address(dana), ConsentId: id})
	assertErr(t, err, nil)
	if c, _ := f.Consent.GetConsent(f.Ctx, id); c.Status != types.CONSENT_STATUS_REVOKED || epoch() != 1 {
		t.Fatalf("after the delegate's revoke: status %s, epoch %d; want revoked, 1", c.Status, epoch())
	}

	// when alice revokes one: epoch 2
	_, err = f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: keyed()})
	assertErr(t, err, nil)
	if epoch() != 2 {
		t.Fatalf("after alice's revoke: epoch %d, want 2", epoch())
	}

	// and at the last epoch, alice's revoke still revokes and the epoch stays
	if err := f.Consent.KeyEpochs.Set(f.Ctx, collections.Join(mustAcc(tk.Address(alice)), "lab-result"), uint64(crypto.MaxKeyEpoch)); err != nil {
		t.Fatal(err)
	}
	id = keyed()
	_, err = f.ConsentMsg.RevokeConsent(f.Ctx, &types.MsgRevokeConsent{Signer: tk.Address(alice), ConsentId: id})
	assertErr(t, err, nil)
	if c, _ := f.Consent.GetConsent(f.Ctx, id); c.Status != types.CONSENT_STATUS_REVOKED || epoch() != crypto.MaxKeyEpoch {
		t.Fatalf("at the last epoch: status %s, epoch %d", c.Status, epoch())
	}
}
