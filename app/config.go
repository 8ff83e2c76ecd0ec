// Package app wires the healthd application: the Cosmos SDK modules healthd uses,
// their keepers, the order in which they run, the ante handler, genesis export and
// upgrade handlers. It is wired by hand (no depinject) so that every dependency
// between keepers is visible in one place.
package app

import (
	"os"
	"path/filepath"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

const (
	// AppName is the name of the application, as reported by the ABCI Info call.
	AppName = "healthd"

	// Bech32Prefix is the human-readable part of account addresses (health1…).
	Bech32Prefix = "health"

	// BondDenom is the staking and fee denomination. One HEALTH is 10^6 uhealth.
	BondDenom = "uhealth"
)

// DefaultNodeHome is the default home directory of the node and client: ~/.healthd.
var DefaultNodeHome = defaultNodeHome()

func defaultNodeHome() string {
	home, err := os.UserHomeDir()
	if err != nil {
		// No home directory (e.g. a bare container): fall back to the working
		// directory rather than failing at import time.
		return ".healthd"
	}
	return filepath.Join(home, ".healthd")
}

// SetSDKConfig sets the bech32 prefixes and the default bond denom in the SDK's
// process-wide configuration. The SDK still formats some addresses (validator
// operator addresses in x/staking, for instance) through that global config, so it
// must agree with the address codecs the app passes to keepers. healthd code itself
// uses address.Codec values, never the global config. Safe to call more than once.
func SetSDKConfig() {
	cfg := sdk.GetConfig()
	if cfg.GetBech32AccountAddrPrefix() == Bech32Prefix {
		return
	}
	cfg.SetBech32PrefixForAccount(Bech32Prefix, Bech32Prefix+sdk.PrefixPublic)
	cfg.SetBech32PrefixForValidator(Bech32Prefix+sdk.PrefixValidator+sdk.PrefixOperator,
		Bech32Prefix+sdk.PrefixValidator+sdk.PrefixOperator+sdk.PrefixPublic)
	cfg.SetBech32PrefixForConsensusNode(Bech32Prefix+sdk.PrefixValidator+sdk.PrefixConsensus,
		Bech32Prefix+sdk.PrefixValidator+sdk.PrefixConsensus+sdk.PrefixPublic)
	cfg.Seal()
	// Module default genesis (staking bond denom, gov min deposit) reads this value.
	sdk.DefaultBondDenom = BondDenom
}
