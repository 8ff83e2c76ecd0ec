package app

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"

	abci "github.com/cometbft/cometbft/abci/types"
	dbm "github.com/cosmos/cosmos-db"
	"github.com/cosmos/gogoproto/proto"
	"github.com/spf13/cast"

	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"
	reflectionv1 "cosmossdk.io/api/cosmos/reflection/v1"
	"cosmossdk.io/client/v2/autocli"
	"cosmossdk.io/core/appmodule"
	"cosmossdk.io/log"
	storetypes "cosmossdk.io/store/types"
	"cosmossdk.io/x/evidence"
	evidencekeeper "cosmossdk.io/x/evidence/keeper"
	evidencetypes "cosmossdk.io/x/evidence/types"
	"cosmossdk.io/x/feegrant"
	feegrantkeeper "cosmossdk.io/x/feegrant/keeper"
	feegrantmodule "cosmossdk.io/x/feegrant/module"
	"cosmossdk.io/x/tx/signing"
	"cosmossdk.io/x/upgrade"
	upgradekeeper "cosmossdk.io/x/upgrade/keeper"
	upgradetypes "cosmossdk.io/x/upgrade/types"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/grpc/cmtservice"
	nodeservice "github.com/cosmos/cosmos-sdk/client/grpc/node"
	"github.com/cosmos/cosmos-sdk/codec"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	"github.com/cosmos/cosmos-sdk/codec/types"
	"github.com/cosmos/cosmos-sdk/runtime"
	runtimeservices "github.com/cosmos/cosmos-sdk/runtime/services"
	"github.com/cosmos/cosmos-sdk/server"
	"github.com/cosmos/cosmos-sdk/server/api"
	"github.com/cosmos/cosmos-sdk/server/config"
	servertypes "github.com/cosmos/cosmos-sdk/server/types"
	"github.com/cosmos/cosmos-sdk/std"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/module"
	"github.com/cosmos/cosmos-sdk/types/msgservice"
	"github.com/cosmos/cosmos-sdk/version"
	"github.com/cosmos/cosmos-sdk/x/auth"
	authkeeper "github.com/cosmos/cosmos-sdk/x/auth/keeper"
	authtx "github.com/cosmos/cosmos-sdk/x/auth/tx"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	"github.com/cosmos/cosmos-sdk/x/bank"
	bankkeeper "github.com/cosmos/cosmos-sdk/x/bank/keeper"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	"github.com/cosmos/cosmos-sdk/x/consensus"
	consensuskeeper "github.com/cosmos/cosmos-sdk/x/consensus/keeper"
	consensustypes "github.com/cosmos/cosmos-sdk/x/consensus/types"
	distr "github.com/cosmos/cosmos-sdk/x/distribution"
	distrkeeper "github.com/cosmos/cosmos-sdk/x/distribution/keeper"
	distrtypes "github.com/cosmos/cosmos-sdk/x/distribution/types"
	"github.com/cosmos/cosmos-sdk/x/genutil"
	genutiltypes "github.com/cosmos/cosmos-sdk/x/genutil/types"
	"github.com/cosmos/cosmos-sdk/x/gov"
	govclient "github.com/cosmos/cosmos-sdk/x/gov/client"
	govkeeper "github.com/cosmos/cosmos-sdk/x/gov/keeper"
	govtypes "github.com/cosmos/cosmos-sdk/x/gov/types"
	"github.com/cosmos/cosmos-sdk/x/slashing"
	slashingkeeper "github.com/cosmos/cosmos-sdk/x/slashing/keeper"
	slashingtypes "github.com/cosmos/cosmos-sdk/x/slashing/types"
	"github.com/cosmos/cosmos-sdk/x/staking"
	stakingkeeper "github.com/cosmos/cosmos-sdk/x/staking/keeper"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"

	"github.com/healthd-chain/healthd/docs"
	"github.com/healthd-chain/healthd/internal/simutil"
	"github.com/healthd-chain/healthd/x/consent"
	consentkeeper "github.com/healthd-chain/healthd/x/consent/keeper"
	consentsim "github.com/healthd-chain/healthd/x/consent/simulation"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	"github.com/healthd-chain/healthd/x/providers"
	providerskeeper "github.com/healthd-chain/healthd/x/providers/keeper"
	providerssim "github.com/healthd-chain/healthd/x/providers/simulation"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	"github.com/healthd-chain/healthd/x/records"
	recordskeeper "github.com/healthd-chain/healthd/x/records/keeper"
	recordssim "github.com/healthd-chain/healthd/x/records/simulation"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

var (
	_ runtime.AppI            = (*HealthApp)(nil)
	_ servertypes.Application = (*HealthApp)(nil)
)

// HealthApp is the healthd application: a BaseApp plus the keepers of every module.
type HealthApp struct {
	*baseapp.BaseApp

	legacyAmino       *codec.LegacyAmino
	appCodec          codec.Codec
	txConfig          client.TxConfig
	interfaceRegistry types.InterfaceRegistry

	keys map[string]*storetypes.KVStoreKey
	sm   *module.SimulationManager

	// Keepers. Exported so that tests and future healthd modules can reach them.
	AccountKeeper         authkeeper.AccountKeeper
	BankKeeper            bankkeeper.BaseKeeper
	StakingKeeper         *stakingkeeper.Keeper
	SlashingKeeper        slashingkeeper.Keeper
	DistrKeeper           distrkeeper.Keeper
	GovKeeper             *govkeeper.Keeper
	UpgradeKeeper         *upgradekeeper.Keeper
	EvidenceKeeper        evidencekeeper.Keeper
	FeeGrantKeeper        feegrantkeeper.Keeper
	ConsensusParamsKeeper consensuskeeper.Keeper

	// healthd modules.
	ProvidersKeeper providerskeeper.Keeper
	ConsentKeeper   consentkeeper.Keeper
	RecordsKeeper   recordskeeper.Keeper

	// ModuleManager runs the modules; BasicModuleManager serves genesis and CLI
	// needs of the same modules without keepers.
	ModuleManager      *module.Manager
	BasicModuleManager module.BasicManager

	configurator module.Configurator

	// metrics counts what committed blocks did (metrics.go).
	metrics *chainMetrics
}

// NewHealthApp returns a fully wired healthd application. loadLatest loads the last
// committed state from db; the CLI sets it false only for commands that need the
// app's codecs but no state.
func NewHealthApp(
	logger log.Logger,
	db dbm.DB,
	traceStore io.Writer,
	loadLatest bool,
	appOpts servertypes.AppOptions,
	baseAppOptions ...func(*baseapp.BaseApp),
) (*HealthApp, error) {
	SetSDKConfig()

	accCodec := addresscodec.NewBech32Codec(Bech32Prefix)
	valCodec := addresscodec.NewBech32Codec(Bech32Prefix + "valoper")
	consCodec := addresscodec.NewBech32Codec(Bech32Prefix + "valcons")

	interfaceRegistry, err := types.NewInterfaceRegistryWithOptions(types.InterfaceRegistryOptions{
		ProtoFiles: proto.HybridResolver,
		SigningOptions: signing.Options{
			AddressCodec:          accCodec,
			ValidatorAddressCodec: valCodec,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("interface registry: %w", err)
	}
	appCodec := codec.NewProtoCodec(interfaceRegistry)
	legacyAmino := codec.NewLegacyAmino()
	txConfig := authtx.NewTxConfig(appCodec, authtx.DefaultSignModes)

	std.RegisterLegacyAminoCodec(legacyAmino)
	std.RegisterInterfaces(interfaceRegistry)

	bApp := baseapp.NewBaseApp(AppName, logger, db, txConfig.TxDecoder(), baseAppOptions...)
	bApp.SetCommitMultiStoreTracer(traceStore)
	bApp.SetVersion(version.Version)
	bApp.SetInterfaceRegistry(interfaceRegistry)
	bApp.SetTxEncoder(txConfig.TxEncoder())

	keys := storetypes.NewKVStoreKeys(
		authtypes.StoreKey, banktypes.StoreKey, stakingtypes.StoreKey,
		distrtypes.StoreKey, slashingtypes.StoreKey, govtypes.StoreKey,
		upgradetypes.StoreKey, evidencetypes.StoreKey, feegrant.StoreKey,
		consensustypes.StoreKey,
		providerstypes.StoreKey,
		consenttypes.StoreKey,
		recordstypes.StoreKey,
	)

	app := &HealthApp{
		BaseApp:           bApp,
		legacyAmino:       legacyAmino,
		appCodec:          appCodec,
		txConfig:          txConfig,
		interfaceRegistry: interfaceRegistry,
		keys:              keys,
	}

	// The gov module account is the consortium authority of every module's
	// UpdateParams: parameters change only through a passed proposal.
	authority, err := accCodec.BytesToString(authtypes.NewModuleAddress(govtypes.ModuleName))
	if err != nil {
		return nil, err
	}
	blocked, err := BlockedAddresses(accCodec)
	if err != nil {
		return nil, err
	}

	app.ConsensusParamsKeeper = consensuskeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[consensustypes.StoreKey]), authority, runtime.EventService{})
	bApp.SetParamStore(app.ConsensusParamsKeeper.ParamsStore)

	app.AccountKeeper = authkeeper.NewAccountKeeper(
		appCodec, runtime.NewKVStoreService(keys[authtypes.StoreKey]), authtypes.ProtoBaseAccount,
		moduleAccountPermissions, accCodec, Bech32Prefix, authority)

	app.BankKeeper = bankkeeper.NewBaseKeeper(
		appCodec, runtime.NewKVStoreService(keys[banktypes.StoreKey]), app.AccountKeeper,
		blocked, authority, logger)

	app.StakingKeeper = stakingkeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[stakingtypes.StoreKey]), app.AccountKeeper,
		app.BankKeeper, authority, valCodec, consCodec)

	app.DistrKeeper = distrkeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[distrtypes.StoreKey]), app.AccountKeeper,
		app.BankKeeper, app.StakingKeeper, authtypes.FeeCollectorName, authority)

	app.SlashingKeeper = slashingkeeper.NewKeeper(
		appCodec, legacyAmino, runtime.NewKVStoreService(keys[slashingtypes.StoreKey]),
		app.StakingKeeper, authority)

	app.FeeGrantKeeper = feegrantkeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[feegrant.StoreKey]), app.AccountKeeper)

	// Distribution and slashing follow validator changes through staking hooks.
	app.StakingKeeper.SetHooks(stakingtypes.NewMultiStakingHooks(
		app.DistrKeeper.Hooks(), app.SlashingKeeper.Hooks()))

	homePath := cast.ToString(appOpts.Get("home"))
	skipUpgradeHeights := map[int64]bool{}
	for _, h := range cast.ToIntSlice(appOpts.Get(server.FlagUnsafeSkipUpgrades)) {
		skipUpgradeHeights[int64(h)] = true
	}
	app.UpgradeKeeper = upgradekeeper.NewKeeper(
		skipUpgradeHeights, runtime.NewKVStoreService(keys[upgradetypes.StoreKey]), appCodec,
		homePath, app.BaseApp, authority)

	app.GovKeeper = govkeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[govtypes.StoreKey]), app.AccountKeeper,
		app.BankKeeper, app.StakingKeeper, app.DistrKeeper, app.MsgServiceRouter(),
		govtypes.DefaultConfig(), authority)

	app.EvidenceKeeper = *evidencekeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[evidencetypes.StoreKey]), app.StakingKeeper,
		app.SlashingKeeper, accCodec, runtime.ProvideCometInfoService())

	app.ProvidersKeeper, err = providerskeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[providerstypes.StoreKey]), accCodec, authority)
	if err != nil {
		return nil, fmt.Errorf("providers keeper: %w", err)
	}
	// x/consent asks x/providers whether a grantee is an active provider, and
	// suspends a provider whose emergency access is judged abusive.
	app.ConsentKeeper, err = consentkeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[consenttypes.StoreKey]), accCodec, authority, app.ProvidersKeeper)
	if err != nil {
		return nil, fmt.Errorf("consent keeper: %w", err)
	}
	// x/records applies x/consent's access rule to every write and read.
	app.RecordsKeeper, err = recordskeeper.NewKeeper(
		appCodec, runtime.NewKVStoreService(keys[recordstypes.StoreKey]), accCodec, authority,
		app.ConsentKeeper, app.ProvidersKeeper)
	if err != nil {
		return nil, fmt.Errorf("records keeper: %w", err)
	}

	app.ModuleManager = module.NewManager(
		genutil.NewAppModule(app.AccountKeeper, app.StakingKeeper, app, txConfig),
		auth.NewAppModule(appCodec, app.AccountKeeper, nil, nil),
		bank.NewAppModule(appCodec, app.BankKeeper, app.AccountKeeper, nil),
		feegrantmodule.NewAppModule(appCodec, app.AccountKeeper, app.BankKeeper, app.FeeGrantKeeper, interfaceRegistry),
		gov.NewAppModule(appCodec, app.GovKeeper, app.AccountKeeper, app.BankKeeper, nil),
		slashing.NewAppModule(appCodec, app.SlashingKeeper, app.AccountKeeper, app.BankKeeper, app.StakingKeeper, nil, interfaceRegistry),
		distr.NewAppModule(appCodec, app.DistrKeeper, app.AccountKeeper, app.BankKeeper, app.StakingKeeper, nil),
		staking.NewAppModule(appCodec, app.StakingKeeper, app.AccountKeeper, app.BankKeeper, nil),
		upgrade.NewAppModule(app.UpgradeKeeper, accCodec),
		evidence.NewAppModule(app.EvidenceKeeper),
		consensus.NewAppModule(appCodec, app.ConsensusParamsKeeper),
		providers.NewAppModule(appCodec, app.ProvidersKeeper),
		consent.NewAppModule(appCodec, app.ConsentKeeper),
		records.NewAppModule(appCodec, app.RecordsKeeper),
	)

	// The basic manager serves `init`, genesis validation and the CLI. genutil and
	// gov need explicit basics: genutil to validate gentx messages, gov because it
	// takes the (empty) list of legacy proposal CLI handlers.
	app.BasicModuleManager = module.NewBasicManagerFromManager(app.ModuleManager,
		map[string]module.AppModuleBasic{
			genutiltypes.ModuleName: genutil.NewAppModuleBasic(genutiltypes.DefaultMessageValidator),
			govtypes.ModuleName:     gov.NewAppModuleBasic([]govclient.ProposalHandler{}),
		})
	app.BasicModuleManager.RegisterLegacyAminoCodec(legacyAmino)
	app.BasicModuleManager.RegisterInterfaces(interfaceRegistry)

	simKeepers := simutil.Keepers{Account: app.AccountKeeper, Bank: app.BankKeeper}
	// The simulation manager: every module's random genesis, operations and store
	// decoders (make test-sim). auth's random genesis accounts are plain accounts
	// (the SDK's helper makes vesting accounts, and healthd has no vesting).
	app.sm = module.NewSimulationManagerFromAppModules(app.ModuleManager.Modules, map[string]module.AppModuleSimulation{
		authtypes.ModuleName:      auth.NewAppModule(appCodec, app.AccountKeeper, simGenesisAccounts, nil),
		providerstypes.ModuleName: providerssim.Module{Keeper: app.ProvidersKeeper, Keepers: simKeepers},
		consenttypes.ModuleName:   consentsim.Module{Keeper: app.ConsentKeeper, Providers: app.ProvidersKeeper, Keepers: simKeepers},
		recordstypes.ModuleName: recordssim.Module{
			Keeper: app.RecordsKeeper, Consent: app.ConsentKeeper, Providers: app.ProvidersKeeper, Keepers: simKeepers,
		},
	})
	app.sm.RegisterStoreDecoders()

	app.ModuleManager.SetOrderPreBlockers(preBlockers...)
	app.ModuleManager.SetOrderBeginBlockers(beginBlockers...)
	app.ModuleManager.SetOrderEndBlockers(endBlockers...)
	app.ModuleManager.SetOrderInitGenesis(genesisOrder...)
	app.ModuleManager.SetOrderExportGenesis(genesisOrder...)

	app.configurator = module.NewConfigurator(appCodec, app.MsgServiceRouter(), app.GRPCQueryRouter())
	if err := app.ModuleManager.RegisterServices(app.configurator); err != nil {
		return nil, fmt.Errorf("register module services: %w", err)
	}

	// AutoCLI and reflection services: clients discover the chain's commands and
	// message types from the node itself.
	autocliv1.RegisterQueryServer(app.GRPCQueryRouter(), runtimeservices.NewAutoCLIQueryService(app.ModuleManager.Modules))
	reflectionSvc, err := runtimeservices.NewReflectionService()
	if err != nil {
		return nil, err
	}
	reflectionv1.RegisterReflectionServiceServer(app.GRPCQueryRouter(), reflectionSvc)

	if err := app.registerUpgradeHandlers(); err != nil {
		return nil, err
	}

	app.MountKVStores(keys)

	app.metrics = newChainMetrics(prometheus.DefaultRegisterer)

	app.SetInitChainer(app.InitChainer)
	app.SetPreBlocker(app.PreBlocker)
	app.SetBeginBlocker(app.BeginBlocker)
	app.SetEndBlocker(app.EndBlocker)

	anteHandler, err := NewAnteHandler(HandlerOptions{
		AccountKeeper:   app.AccountKeeper,
		BankKeeper:      app.BankKeeper,
		FeegrantKeeper:  app.FeeGrantKeeper,
		SignModeHandler: txConfig.SignModeHandler(),
		// the permissioned validator set
		ValidatorApprovals: app.ProvidersKeeper,
		AccountCodec:       accCodec,
		ValidatorCodec:     valCodec,
		// app.toml [healthd] verified-tx-cache-size (default on)
		VerifiedTxCacheSize: verifiedTxCacheSize(appOpts),
	})
	if err != nil {
		return nil, fmt.Errorf("ante handler: %w", err)
	}
	app.SetAnteHandler(anteHandler)

	// Every Msg must carry its cosmos.msg.v1.signer annotation; a missing one is
	// a programming error that must not reach a running chain.
	protoFiles, err := proto.MergedRegistry()
	if err != nil {
		return nil, err
	}
	if err := msgservice.ValidateProtoAnnotations(protoFiles); err != nil {
		return nil, fmt.Errorf("proto annotations: %w", err)
	}

	if loadLatest {
		if err := app.LoadLatestVersion(); err != nil {
			return nil, fmt.Errorf("load latest version: %w", err)
		}
	}
	return app, nil
}

// Name returns the application name.
func (app *HealthApp) Name() string { return app.BaseApp.Name() }

// simGenesisAccounts makes a base account of every simulation account.
func simGenesisAccounts(simState *module.SimulationState) authtypes.GenesisAccounts {
	accs := make(authtypes.GenesisAccounts, len(simState.Accounts))
	for i, acc := range simState.Accounts {
		accs[i] = authtypes.NewBaseAccountWithAddress(acc.Address)
	}
	return accs
}

// SimulationManager returns the simulation manager (random genesis, operations
// and store decoders of every module).
func (app *HealthApp) SimulationManager() *module.SimulationManager { return app.sm }

// LegacyAmino returns the amino codec (used for legacy JSON signing only).
func (app *HealthApp) LegacyAmino() *codec.LegacyAmino { return app.legacyAmino }

// AppCodec returns the app's protobuf codec.
func (app *HealthApp) AppCodec() codec.Codec { return app.appCodec }

// InterfaceRegistry returns the app's interface registry.
func (app *HealthApp) InterfaceRegistry() types.InterfaceRegistry { return app.interfaceRegistry }

// TxConfig returns the app's transaction configuration.
func (app *HealthApp) TxConfig() client.TxConfig { return app.txConfig }

// FinalizeBlock executes a decided block (baseapp) and reads its results for
// the chain metrics, which are added when the block is committed.
func (app *HealthApp) FinalizeBlock(req *abci.RequestFinalizeBlock) (*abci.ResponseFinalizeBlock, error) {
	resp, err := app.BaseApp.FinalizeBlock(req)
	if err == nil {
		app.metrics.observe(resp)
	}
	return resp, err
}

// Commit persists the finalized block's state (baseapp) and then adds its
// counts to the chain metrics.
func (app *HealthApp) Commit() (*abci.ResponseCommit, error) {
	resp, err := app.BaseApp.Commit()
	if err == nil {
		app.metrics.commit()
	}
	return resp, err
}

// PreBlocker runs the modules' pre-blockers (upgrade, auth).
func (app *HealthApp) PreBlocker(ctx sdk.Context, _ *abci.RequestFinalizeBlock) (*sdk.ResponsePreBlock, error) {
	return app.ModuleManager.PreBlock(ctx)
}

// BeginBlocker runs the modules' begin-blockers.
func (app *HealthApp) BeginBlocker(ctx sdk.Context) (sdk.BeginBlock, error) {
	return app.ModuleManager.BeginBlock(ctx)
}

// EndBlocker runs the modules' end-blockers.
func (app *HealthApp) EndBlocker(ctx sdk.Context) (sdk.EndBlock, error) {
	return app.ModuleManager.EndBlock(ctx)
}

// InitChainer initializes every module from the genesis file's app_state.
func (app *HealthApp) InitChainer(ctx sdk.Context, req *abci.RequestInitChain) (*abci.ResponseInitChain, error) {
	var genesisState GenesisState
	if err := json.Unmarshal(req.AppStateBytes, &genesisState); err != nil {
		return nil, fmt.Errorf("decode app_state: %w", err)
	}
	if err := app.UpgradeKeeper.SetModuleVersionMap(ctx, app.ModuleManager.GetVersionMap()); err != nil {
		return nil, err
	}
	return app.ModuleManager.InitGenesis(ctx, app.appCodec, genesisState)
}

// LoadHeight loads the state at a given height.
func (app *HealthApp) LoadHeight(height int64) error { return app.LoadVersion(height) }

// DefaultGenesis returns the default genesis state of every module.
func (app *HealthApp) DefaultGenesis() GenesisState {
	return app.BasicModuleManager.DefaultGenesis(app.appCodec)
}

// AutoCliOpts returns the AutoCLI options of every module, so that `healthd tx`
// and `healthd query` are generated from the modules' gRPC services.
func (app *HealthApp) AutoCliOpts() autocli.AppOptions {
	modules := make(map[string]appmodule.AppModule)
	for _, m := range app.ModuleManager.Modules {
		if named, ok := m.(module.HasName); ok {
			if am, ok := m.(appmodule.AppModule); ok {
				modules[named.Name()] = am
			}
		}
	}
	return autocli.AppOptions{
		Modules:               modules,
		ModuleOptions:         runtimeservices.ExtractAutoCLIOptions(app.ModuleManager.Modules),
		AddressCodec:          addresscodec.NewBech32Codec(Bech32Prefix),
		ValidatorAddressCodec: addresscodec.NewBech32Codec(Bech32Prefix + "valoper"),
		ConsensusAddressCodec: addresscodec.NewBech32Codec(Bech32Prefix + "valcons"),
	}
}

// RegisterAPIRoutes registers the REST gateway routes of every module, and the
// OpenAPI description of them at /openapi.json (with a browsable UI at /swagger/)
// when `api.swagger` is enabled in app.toml.
func (app *HealthApp) RegisterAPIRoutes(apiSvr *api.Server, apiConfig config.APIConfig) {
	clientCtx := apiSvr.ClientCtx
	authtx.RegisterGRPCGatewayRoutes(clientCtx, apiSvr.GRPCGatewayRouter)
	cmtservice.RegisterGRPCGatewayRoutes(clientCtx, apiSvr.GRPCGatewayRouter)
	nodeservice.RegisterGRPCGatewayRoutes(clientCtx, apiSvr.GRPCGatewayRouter)
	app.BasicModuleManager.RegisterGRPCGatewayRoutes(clientCtx, apiSvr.GRPCGatewayRouter)

	if apiConfig.Swagger {
		docs.RegisterOpenAPIRoutes(apiSvr.Router)
	}
}

// RegisterTxService registers the tx gRPC service (simulate, broadcast, get tx).
func (app *HealthApp) RegisterTxService(clientCtx client.Context) {
	authtx.RegisterTxService(app.GRPCQueryRouter(), clientCtx, app.Simulate, app.interfaceRegistry)
}

// RegisterTendermintService registers the CometBFT gRPC service (blocks, node info).
func (app *HealthApp) RegisterTendermintService(clientCtx client.Context) {
	cmtservice.RegisterTendermintService(clientCtx, app.GRPCQueryRouter(), app.interfaceRegistry, app.Query)
}

// RegisterNodeService registers the node gRPC service (config, status).
func (app *HealthApp) RegisterNodeService(clientCtx client.Context, cfg config.Config) {
	nodeservice.RegisterNodeService(clientCtx, app.GRPCQueryRouter(), cfg)
}

// verifiedTxCacheSize reads app.toml's [healthd] verified-tx-cache-size;
// unset (an app.toml written before the option, or a test) means the default.
func verifiedTxCacheSize(appOpts servertypes.AppOptions) int {
	if v := appOpts.Get("healthd.verified-tx-cache-size"); v != nil {
		return cast.ToInt(v)
	}
	return DefaultVerifiedTxCacheSize
}
