// Package keeper has test fixtures: real keepers over an in-memory store, with a
// context whose block time the test controls.
package keeper

import (
	"crypto/hpke"
	"crypto/sha256"
	"testing"
	"time"

	storetypes "cosmossdk.io/store/types"

	"github.com/cosmos/cosmos-sdk/codec"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	codectestutil "github.com/cosmos/cosmos-sdk/codec/testutil"
	"github.com/cosmos/cosmos-sdk/runtime"
	"github.com/cosmos/cosmos-sdk/testutil"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	govtypes "github.com/cosmos/cosmos-sdk/x/gov/types"

	providerskeeper "github.com/healthd-chain/healthd/x/providers/keeper"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
)

// GenesisTime is the block time fixtures start at.
var GenesisTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// AddressCodec is the account address codec of healthd (prefix health).
var AddressCodec = addresscodec.NewBech32Codec("health")

// Address returns a deterministic test address for a name, as bech32.
func Address(name string) string {
	var b [20]byte
	copy(b[:], name)
	s, err := AddressCodec.BytesToString(b[:])
	if err != nil {
		panic(err)
	}
	return s
}

// Authority is the governance module account, as bech32.
func Authority() string {
	s, err := AddressCodec.BytesToString(authtypes.NewModuleAddress(govtypes.ModuleName))
	if err != nil {
		panic(err)
	}
	return s
}

// EncryptionKey returns a deterministic, valid HPKE MLKEM768X25519 public key
// derived from seed (a test key: its private half is public knowledge).
func EncryptionKey(seed string) []byte {
	ikm := sha256.Sum256([]byte("healthd test encryption key/" + seed))
	priv, err := hpke.MLKEM768X25519().DeriveKeyPair(ikm[:])
	if err != nil {
		panic(err)
	}
	return priv.PublicKey().Bytes()
}

// ProvidersFixture is a providers keeper over an in-memory store.
type ProvidersFixture struct {
	Ctx       sdk.Context
	Keeper    providerskeeper.Keeper
	Msg       providerstypes.MsgServer
	Query     providerstypes.QueryServer
	Codec     codec.Codec
	Authority string
}

// NewProvidersFixture returns a fresh fixture at GenesisTime with default params.
func NewProvidersFixture(t testing.TB) *ProvidersFixture {
	t.Helper()
	key := storetypes.NewKVStoreKey(providerstypes.StoreKey)
	testCtx := testutil.DefaultContextWithDB(t, key, storetypes.NewTransientStoreKey("transient_test"))
	cdc := codectestutil.CodecOptions{AccAddressPrefix: "health", ValAddressPrefix: "healthvaloper"}.NewCodec()
	providerstypes.RegisterInterfaces(cdc.InterfaceRegistry())
	k, err := providerskeeper.NewKeeper(cdc, runtime.NewKVStoreService(key), AddressCodec, Authority())
	if err != nil {
		t.Fatal(err)
	}
	f := &ProvidersFixture{
		Ctx:       testCtx.Ctx.WithBlockTime(GenesisTime).WithBlockHeight(1),
		Keeper:    k,
		Msg:       providerskeeper.NewMsgServerImpl(k),
		Query:     providerskeeper.NewQueryServerImpl(k),
		Codec:     cdc,
		Authority: Authority(),
	}
	if err := k.Params.Set(f.Ctx, providerstypes.DefaultParams()); err != nil {
		t.Fatal(err)
	}
	return f
}

// ValidProvider returns a valid registry entry for address name, in status st
// (active and suspended entries have a credential expiring in 30 days).
func ValidProvider(name string, st providerstypes.ProviderStatus) providerstypes.Provider {
	p := providerstypes.Provider{
		Address:        Address(name),
		Name:           "Provider " + name,
		Kind:           providerstypes.PROVIDER_KIND_HOSPITAL,
		LicenseId:      "LIC-" + name,
		Jurisdiction:   "DE",
		EncryptionKey:  EncryptionKey(name),
		VaultEndpoint:  "https://vault." + name + ".example",
		Status:         st,
		CredentialHash: make([]byte, 32),
		RegisteredAt:   GenesisTime,
		UpdatedAt:      GenesisTime,
	}
	if st == providerstypes.PROVIDER_STATUS_ACTIVE || st == providerstypes.PROVIDER_STATUS_SUSPENDED {
		p.CredentialExpiresAt = GenesisTime.Add(30 * 24 * time.Hour)
	}
	return p
}

// SetProvider writes p directly to the store.
func (f *ProvidersFixture) SetProvider(t testing.TB, p providerstypes.Provider) {
	t.Helper()
	addr, err := AddressCodec.StringToBytes(p.Address)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Keeper.Providers.Set(f.Ctx, addr, p); err != nil {
		t.Fatal(err)
	}
}

// SetRegistrars sets the registrars in params.
func (f *ProvidersFixture) SetRegistrars(t testing.TB, registrars ...string) {
	t.Helper()
	params := providerstypes.DefaultParams()
	params.Registrars = registrars
	if err := f.Keeper.Params.Set(f.Ctx, params); err != nil {
		t.Fatal(err)
	}
}

// Provider reads the entry of address name, and whether it exists.
func (f *ProvidersFixture) Provider(t testing.TB, name string) (providerstypes.Provider, bool) {
	t.Helper()
	addr, err := AddressCodec.StringToBytes(Address(name))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Keeper.Providers.Get(f.Ctx, addr)
	if err != nil {
		return p, false
	}
	return p, true
}
