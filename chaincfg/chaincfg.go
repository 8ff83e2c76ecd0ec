// Package chaincfg holds the constants every part of healthd shares with the
// chain: the address prefix and the bond denomination. It is a leaf: it
// imports only the SDK's types, so the client (client/), the vault, the
// portal and the FHIR mapping know the chain's conventions without importing
// the application (app/) and its keepers.
package chaincfg

import sdk "github.com/cosmos/cosmos-sdk/types"

const (
	// Bech32Prefix is the human-readable part of account addresses (health1…).
	Bech32Prefix = "health"

	// BondDenom is the staking and fee denomination. One HEALTH is 10^6 uhealth.
	BondDenom = "uhealth"
)

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
