package cmd

import (
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	serverconfig "github.com/cosmos/cosmos-sdk/server/config"

	"github.com/healthd-chain/healthd/app"
)

// initCometBFTConfig returns the CometBFT defaults written by `healthd init`.
func initCometBFTConfig() *cmtcfg.Config {
	cfg := cmtcfg.DefaultConfig()
	// A 1 s timeout_commit, set explicitly so that it does not depend on upstream
	// defaults (5 s in many SDK chain templates), keeps a record write's commit
	// latency near one block; the validators of a consortium are few and well
	// connected, so the short wait costs no liveness.
	cfg.Consensus.TimeoutCommit = time.Second
	return cfg
}

// initAppConfig returns the app.toml template and defaults written by `healthd init`.
func initAppConfig() (string, any) {
	cfg := serverconfig.DefaultConfig()
	// A consortium chain runs without fees by default (members are known and
	// admitted by governance); operators may set a price to make spam cost.
	cfg.MinGasPrices = "0" + app.BondDenom
	// The gRPC endpoint (with reflection) is on by default; the REST API is off by
	// default on a node and turned on for localnet by config.yml.
	cfg.GRPC.Enable = true
	return serverconfig.DefaultConfigTemplate, cfg
}
