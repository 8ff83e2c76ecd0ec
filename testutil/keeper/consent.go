package keeper

import (
	"bytes"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/crypto"
	consentkeeper "github.com/healthd-chain/healthd/x/consent/keeper"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// ConsentFixture is a consent keeper wired to a real providers keeper, over one
// in-memory multistore.
type ConsentFixture struct {
	*ProvidersFixture
	Consent      consentkeeper.Keeper
	ConsentMsg   consenttypes.MsgServer
	ConsentQuery consenttypes.QueryServer
}

// NewConsentFixture returns a fresh fixture at GenesisTime with default params,
// the registrar "registrar", and the active providers "hospital" and "lab". (It
// is the consent part of a records fixture: one construction for both.)
func NewConsentFixture(t testing.TB) *ConsentFixture {
	t.Helper()
	return NewRecordsFixture(t).ConsentFixture
}

// RegisterPatient registers name as a patient.
func (f *ConsentFixture) RegisterPatient(t testing.TB, name string) {
	t.Helper()
	if _, err := f.ConsentMsg.RegisterPatient(f.Ctx, &consenttypes.MsgRegisterPatient{
		Patient: Address(name), EncryptionKey: EncryptionKey(name),
	}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
}

// Grant has patient grant grantee read on lab-result for TREAT for d, and
// returns the consent id.
func (f *ConsentFixture) Grant(t testing.TB, patient, grantee string, d time.Duration) uint64 {
	t.Helper()
	resp, err := f.ConsentMsg.GrantConsent(f.Ctx, &consenttypes.MsgGrantConsent{
		Signer: Address(patient), Grantee: Address(grantee), Permissions: []string{"read"},
		DataClasses: []string{"lab-result"}, Purposes: []string{"TREAT"}, Duration: d,
	})
	if err != nil {
		t.Fatalf("grant %s→%s: %v", patient, grantee, err)
	}
	return resp.Id
}

// KeyGrant is a well-formed key grant for (class, epoch) whose HPKE part is
// filler: the chain checks a grant's layout and label, never opens it.
func KeyGrant(class string, epoch uint64) []byte {
	g, err := crypto.EncodeGrant(class, epoch, bytes.Repeat([]byte{0x5a}, crypto.GrantSealedSize))
	if err != nil {
		panic(err)
	}
	return g
}

// At moves the fixture's block time.
func (f *ConsentFixture) At(t time.Time) { f.Ctx = f.Ctx.WithBlockTime(t) }
