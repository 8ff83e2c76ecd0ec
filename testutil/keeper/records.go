package keeper

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"cosmossdk.io/log"
	"cosmossdk.io/store"
	"cosmossdk.io/store/metrics"
	storetypes "cosmossdk.io/store/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	dbm "github.com/cosmos/cosmos-db"

	codectestutil "github.com/cosmos/cosmos-sdk/codec/testutil"
	"github.com/cosmos/cosmos-sdk/runtime"
	sdk "github.com/cosmos/cosmos-sdk/types"

	consentkeeper "github.com/healthd-chain/healthd/x/consent/keeper"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerskeeper "github.com/healthd-chain/healthd/x/providers/keeper"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordskeeper "github.com/healthd-chain/healthd/x/records/keeper"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// RecordsFixture is a records keeper wired to real consent and providers
// keepers, over one in-memory multistore.
type RecordsFixture struct {
	*ConsentFixture
	Records      recordskeeper.Keeper
	RecordsMsg   recordstypes.MsgServer
	RecordsQuery recordstypes.QueryServer
}

// NewRecordsFixture returns a fresh fixture like NewConsentFixture's, with the
// records module at default params.
func NewRecordsFixture(t testing.TB) *RecordsFixture {
	t.Helper()
	keys := storetypes.NewKVStoreKeys(providerstypes.StoreKey, consenttypes.StoreKey, recordstypes.StoreKey)
	// Each store gets its own prefix of one in-memory database (the SDK's
	// DefaultContextWithKeys mounts them all on the same keys, so they could
	// never be committed; benchmarks commit, as a node does every block).
	cms := store.NewCommitMultiStore(dbm.NewMemDB(), log.NewNopLogger(), metrics.NewNoOpMetrics())
	for _, key := range keys {
		cms.MountStoreWithDB(key, storetypes.StoreTypeIAVL, nil)
	}
	if err := cms.LoadLatestVersion(); err != nil {
		t.Fatal(err)
	}
	ctx := sdk.NewContext(cms, cmtproto.Header{}, false, log.NewNopLogger())
	cdc := codectestutil.CodecOptions{AccAddressPrefix: "health", ValAddressPrefix: "healthvaloper"}.NewCodec()
	providerstypes.RegisterInterfaces(cdc.InterfaceRegistry())
	consenttypes.RegisterInterfaces(cdc.InterfaceRegistry())
	recordstypes.RegisterInterfaces(cdc.InterfaceRegistry())

	pk, err := providerskeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[providerstypes.StoreKey]), AddressCodec, Authority())
	if err != nil {
		t.Fatal(err)
	}
	ck, err := consentkeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[consenttypes.StoreKey]), AddressCodec, Authority(), pk)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := recordskeeper.NewKeeper(cdc, runtime.NewKVStoreService(keys[recordstypes.StoreKey]), AddressCodec, Authority(), ck, pk)
	if err != nil {
		t.Fatal(err)
	}
	f := &RecordsFixture{
		ConsentFixture: &ConsentFixture{
			ProvidersFixture: &ProvidersFixture{
				Ctx:    ctx.WithBlockTime(GenesisTime).WithBlockHeight(1).WithEventManager(sdk.NewEventManager()),
				Keeper: pk, Msg: providerskeeper.NewMsgServerImpl(pk), Query: providerskeeper.NewQueryServerImpl(pk),
				Codec: cdc, Authority: Authority(),
			},
			Consent: ck, ConsentMsg: consentkeeper.NewMsgServerImpl(ck), ConsentQuery: consentkeeper.NewQueryServerImpl(ck),
		},
		Records: rk, RecordsMsg: recordskeeper.NewMsgServerImpl(rk), RecordsQuery: recordskeeper.NewQueryServerImpl(rk),
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
	if err := rk.InitGenesis(f.Ctx, recordstypes.DefaultGenesis()); err != nil {
		t.Fatal(err)
	}
	return f
}

// Entry returns a valid record entry of class whose hash is derived from seed.
func Entry(class, seed string) recordstypes.RecordEntry {
	h := sha256.Sum256([]byte(seed))
	return recordstypes.RecordEntry{
		DataClass: class, FhirResourceType: "Observation", ContentHash: h[:], Size_: 2048,
		StorageUri: fmt.Sprintf("vault://hospital/%x", h[:8]), KeyEnvelope: []byte("wrapped-data-key"), KeyEpoch: 1,
	}
}
