// Package app wires the healthd application: the Cosmos SDK modules healthd uses,
// their keepers, the order in which they run, the ante handler, genesis export and
// upgrade handlers. It is wired by hand (no depinject) so that every dependency
// between keepers is visible in one place.
package app

import (
	"os"
	"path/filepath"

	"github.com/healthd-chain/healthd/chaincfg"
)

const (
	// AppName is the name of the application, as reported by the ABCI Info call.
	AppName = "healthd"

	// Bech32Prefix is the human-readable part of account addresses (health1…);
	// defined in the leaf package chaincfg, which the client side imports.
	Bech32Prefix = chaincfg.Bech32Prefix

	// BondDenom is the staking and fee denomination. One HEALTH is 10^6 uhealth.
	BondDenom = chaincfg.BondDenom
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

// SetSDKConfig sets the SDK's process-wide bech32 prefixes and bond denom
// (chaincfg.SetSDKConfig). Safe to call more than once.
func SetSDKConfig() { chaincfg.SetSDKConfig() }
