package keeper

import (
	"testing"
	"time"

	storetypes "cosmossdk.io/store/types"

	codectestutil "github.com/cosmos/cosmos-sdk/codec/testutil"
	"github.com/cosmos/cosmos-sdk/runtime"
	"github.com/cosmos/cosmos-sdk/testutil"
	sdk "github.com/cosmos/cosmos-sdk/types"

	consentkeeper "github.com/healthd-chain/healthd/x/consent/keeper"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerskeeper "github.com/healthd-chain/healthd/x/providers/keeper"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
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
// the registrar "registrar", and the active providers "hospital" and "lab".
func NewConsentFixture(t testing.TB) *ConsentFixture {
	t.Helper()
	keys := storetypes.NewKVStoreKeys(providerstypes.StoreKey, consenttypes.StoreKey)
	ctx := testutil.DefaultContextWithKeys(keys, map[string]*storetypes.TransientStoreKey{}, map[string]*storetypes.MemoryStoreKey{})
	cdc := codectestutil.CodecOptions{AccAddressPrefix: "health", ValAddressPrefix: "healthvaloper"}.NewCodec()
	providerstypes.RegisterInterfaces(cdc.InterfaceRegistry())
	consenttypes.RegisterInterfaces(cdc.InterfaceRegistry())

	pk, err := providerskeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[providerstypes.StoreKey]), AddressCodec, Authority())
	if err != nil {
		t.Fatal(err)
	}
	ck, err := consentkeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[consenttypes.StoreKey]), AddressCodec, Authority(), pk)
	if err != nil {
		t.Fatal(err)
	}
	f := &ConsentFixture{
		ProvidersFixture: &ProvidersFixture{
			Ctx:       ctx.WithBlockTime(GenesisTime).WithBlockHeight(1).WithEventManager(sdk.NewEventManager()),
			Keeper:    pk,
			Msg:       providerskeeper.NewMsgServerImpl(pk),
			Query:     providerskeeper.NewQueryServerImpl(pk),
			Codec:     cdc,
			Authority: Authority(),
		},
		Consent:      ck,
		ConsentMsg:   consentkeeper.NewMsgServerImpl(ck),
		ConsentQuery: consentkeeper.NewQueryServerImpl(ck),
	}
	if err := pk.Params.Set(f.Ctx, providerstypes.DefaultParams()); err != nil {
		t.Fatal(err)
	}
	f.SetRegistrars(t, Address("registrar"))
	f.SetProvider(t, ValidProvider("hospital", providerstypes.PROVIDER_STATUS_ACTIVE))
	f.SetProvider(t, ValidProvider("lab", providerstypes.PROVIDER_STATUS_ACTIVE))
	if err := ck.InitGenesis(f.Ctx, consenttypes.DefaultGenesis()); err != nil {
		t.Fatal(err)
	}
	return f
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

// At moves the fixture's block time.
func (f *ConsentFixture) At(t time.Time) { f.Ctx = f.Ctx.WithBlockTime(t) }
