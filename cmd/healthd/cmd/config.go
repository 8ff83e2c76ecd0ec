package cmd

import (
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	serverconfig "github.com/cosmos/cosmos-sdk/server/config"

	"github.com/healthd-chain/healthd/app"
)

// initCometBFTConfig returns the CometBFT defaults of a new node home.
//
// When the SDK writes a new config.toml it replaces CometBFT's 1 s timeout_commit
// with 5 s, so `healthd init` writes DefaultTimeoutCommit back afterwards.
func initCometBFTConfig() *cmtcfg.Config {
	return cmtcfg.DefaultConfig()
}

// DefaultTimeoutCommit is the timeout_commit `healthd init` writes. One second keeps
// a record write's commit latency near one block; the validators of a consortium
// are few and well connected, so the short wait costs no liveness.
const DefaultTimeoutCommit = time.Second

// DefaultIAVLCacheSize is the iavl-cache-size `healthd init` writes: tree
// nodes cached per store.
const DefaultIAVLCacheSize = 100_000

// DefaultAppDBBackend is the app-db-backend `healthd init` writes.
const DefaultAppDBBackend = "pebbledb"

// appConfig is app.toml: the SDK's sections and healthd's own.
type appConfig struct {
	serverconfig.Config `mapstructure:",squash"`
	Healthd             healthdConfig `mapstructure:"healthd"`
}

// healthdConfig is app.toml's [healthd] section.
type healthdConfig struct {
	VerifiedTxCacheSize int  `mapstructure:"verified-tx-cache-size"`
	OptimisticExecution bool `mapstructure:"optimistic-execution"`
}

const healthdConfigTemplate = `
###############################################################################
###                              healthd                                    ###
###############################################################################

[healthd]

# How many transactions whose signatures this node verified in CheckTx it
# remembers (by the hash of their bytes), so that block execution does not
# verify them again. About 100 bytes each; 0 turns the cache off. It changes
# no result and no gas: only how much CPU a block costs this node.
verified-tx-cache-size = {{ .Healthd.VerifiedTxCacheSize }}

# Optimistic execution: start executing a proposed block while the validators
# still vote on it (the SDK's baseapp.SetOptimisticExecution), instead of
# after. The result is the same; if the block that is decided differs from the
# one executed, the work is thrown away and the decided block runs.
optimistic-execution = {{ .Healthd.OptimisticExecution }}
`

// initAppConfig returns the app.toml template and defaults written by `healthd init`.
func initAppConfig() (string, any) {
	cfg := serverconfig.DefaultConfig()
	// A consortium chain runs without fees by default (members are known and
	// admitted by governance); operators may set a price to make spam cost.
	cfg.MinGasPrices = "0" + app.BondDenom
	// The gRPC endpoint (with reflection) is on by default; the REST API is off by
	// default on a node and turned on for localnet by config.yml.
	cfg.GRPC.Enable = true
	// IAVL keeps this many tree nodes of each store in memory. The SDK's
	// 781,250 held 1.1 GB of a node's 1.5 GB live heap at 100k records and
	// consents, for no measurable speed (docs/benchmarks.md, "Tuning 3").
	cfg.IAVLCacheSize = DefaultIAVLCacheSize
	// The application state in pebble: the state loader ran 1.20x faster and
	// CheckAccess p99 was lower than on goleveldb (docs/benchmarks.md,
	// "Tuning 6"). CometBFT's own databases stay on config.toml's db_backend.
	// A node's backend cannot change in place: an existing app.toml keeps its own.
	cfg.AppDBBackend = DefaultAppDBBackend
	return serverconfig.DefaultConfigTemplate + healthdConfigTemplate,
		appConfig{Config: *cfg, Healthd: healthdConfig{VerifiedTxCacheSize: app.DefaultVerifiedTxCacheSize}}
}
