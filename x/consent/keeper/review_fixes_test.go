package keeper_test

import (
	"strings"
	"testing"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/x/consent/keeper"
	"github.com/healthd-chain/healthd/x/consent/types"
)

// An address spelled in upper case decodes to the same bytes; it is refused so
// that every stored address has one spelling.
func TestUpperCaseAddressesAreRefused(t *testing.T) {
	f, _ := setup(t)
	_, err := f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
		Signer: tk.Address(alice), Grantee: strings.ToUpper(tk.Address(lab)), Permissions: []string{"read"},
		DataClasses: []string{"allergy"}, Purposes: []string{"TREAT"}, Duration: time.Hour,
	})
	assertErr(t, err, types.ErrInvalidAddress)
	_, err = f.ConsentMsg.AddDelegate(f.Ctx, &types.MsgAddDelegate{
		Patient: tk.Address(alice), Delegate: strings.ToUpper(tk.Address(bob)), ExpiresAt: tk.GenesisTime.Add(48 * time.Hour),
	})
	assertErr(t, err, types.ErrInvalidAddress)

	gs, err := f.Consent.ExportGenesis(f.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	gs.Patients[0].Address = strings.ToUpper(gs.Patients[0].Address)
	if err := gs.Validate(tk.AddressCodec); err == nil {
		t.Fatal("genesis with an upper-case patient address accepted")
	}
}

// The queue key rounds the end up to the second: a consent is never marked
// expired before its end, and far-future ends do not overflow.
func TestQueueKeyNeverEarly(t *testing.T) {
	end := tk.GenesisTime.Add(10*time.Second + 500*time.Millisecond)
	if k := keeper.QueueKey(types.Consent{Id: 1, Period: types.Period{End: end}}); k.K1() != tk.GenesisTime.Unix()+11 {
		t.Fatalf("key of an end at .5s = %d, want the next whole second", k.K1())
	}
	far := time.Date(2400, 1, 1, 0, 0, 0, 0, time.UTC)
	if k := keeper.QueueKey(types.Consent{Id: 1, Period: types.Period{End: far}}); k.K1() != far.Unix() || k.K1() <= 0 {
		t.Fatalf("key of a year-2400 end = %d", k.K1())
	}

	// given a consent ending half a second after a whole second
	f, _ := setup(t)
	f.At(tk.GenesisTime)
	resp, err := f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
		Signer: tk.Address(alice), Grantee: tk.Address(lab), Permissions: []string{"read"},
		DataClasses: []string{"allergy"}, Purposes: []string{"TREAT"}, Duration: 10*time.Second + 500*time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// when EndBlock runs just before the end, then it leaves it active
	f.At(end.Add(-100 * time.Millisecond))
	if err := f.Consent.EndBlocker(f.Ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.Consent.GetConsent(f.Ctx, resp.Id); c.Status != types.CONSENT_STATUS_ACTIVE {
		t.Fatalf("marked %s before its end", c.Status)
	}
	// and after the end it is denied at once, and marked by the next whole second
	f.At(end.Add(100 * time.Millisecond))
	d, _ := f.Consent.CheckAccess(f.Ctx, mustAcc(tk.Address(alice)), mustAcc(tk.Address(lab)), "allergy", "read", "TREAT", time.Time{}, nil)
	if d.Allowed {
		t.Fatal("allowed after the end")
	}
	f.At(tk.GenesisTime.Add(11 * time.Second))
	if err := f.Consent.EndBlocker(f.Ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.Consent.GetConsent(f.Ctx, resp.Id); c.Status != types.CONSENT_STATUS_EXPIRED {
		t.Fatalf("not marked at the next whole second: %s", c.Status)
	}

	// and a start beyond max_consent_duration ahead is refused
	_, err = f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
		Signer: tk.Address(alice), Grantee: tk.Address(lab), Permissions: []string{"read"}, DataClasses: []string{"allergy"},
		Purposes: []string{"TREAT"}, Start: f.Ctx.BlockTime().Add(types.DefaultMaxConsentDuration + time.Hour), Duration: time.Hour,
	})
	assertErr(t, err, types.ErrInvalidPeriod)
}

// A delegate acts for the patient only within the delegation, never for itself.
func TestDelegateGrantLimits(t *testing.T) {
	f, _ := setup(t)
	f.RegisterPatient(t, dana)
	grant := func(grantee string, d time.Duration) error {
		_, err := f.ConsentMsg.GrantConsent(f.Ctx, &types.MsgGrantConsent{
			Signer: tk.Address(dana), Patient: tk.Address(alice), Grantee: tk.Address(grantee), Permissions: []string{"read"},
			DataClasses: []string{"allergy"}, Purposes: []string{"TREAT"}, Duration: d,
		})
		return err
	}
	assertErr(t, grant(dana, time.Hour), types.ErrUnauthorized)       // to itself
	assertErr(t, grant(lab, 40*24*time.Hour), types.ErrInvalidPeriod) // beyond the delegation (30 days)
	assertErr(t, grant(lab, 24*time.Hour), nil)                       // within it
	assertErr(t, grant(bob, 24*time.Hour), nil)                       // to another registered patient
}

// An abusive verdict revokes the access: the revocation has its own event.
func TestAbusiveReviewEmitsRevocation(t *testing.T) {
	f, _ := setup(t)
	breakGlass(lab)(t, f)
	f.Ctx = f.Ctx.WithEventManager(sdk.NewEventManager())
	if _, err := f.ConsentMsg.ReviewEmergencyAccess(f.Ctx, &types.MsgReviewEmergencyAccess{
		Reviewer: tk.Address("registrar"), ConsentId: 2, Verdict: types.REVIEW_STATE_ABUSIVE,
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"healthd.consent.v1.EventConsentRevoked": false, "healthd.consent.v1.EventEmergencyAccessEnded": false,
		"healthd.consent.v1.EventEmergencyAccessReviewed": false, "healthd.providers.v1.EventProviderStatusChanged": false,
	}
	for _, e := range f.Ctx.EventManager().Events() {
		if _, ok := want[e.Type]; ok {
			want[e.Type] = true
		}
	}
	for typ, seen := range want {
		if !seen {
			t.Errorf("no %s event", typ)
		}
	}
}
