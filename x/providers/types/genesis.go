package types

import (
	"cosmossdk.io/core/address"
	errorsmod "cosmossdk.io/errors"

	"github.com/healthd-chain/healthd/internal/addrs"
)

// DefaultGenesis returns the default genesis: default params, no providers.
func DefaultGenesis() *GenesisState {
	return &GenesisState{Params: DefaultParams(), Providers: []Provider{}}
}

// Validate checks the genesis state: valid params; every provider valid, with a
// valid address, listed once, in a state that the messages could have produced.
func (gs GenesisState) Validate(ac address.Codec) error {
	if err := gs.Params.Validate(ac); err != nil {
		return err
	}
	seen := make(map[string]bool, len(gs.Providers))
	for i, p := range gs.Providers {
		if _, err := addrs.Decode(ac, p.Address); err != nil {
			return errorsmod.Wrapf(ErrInvalidGenesis, "providers[%d] address %q: %v", i, p.Address, err)
		}
		if seen[p.Address] {
			return errorsmod.Wrapf(ErrInvalidGenesis, "provider %s listed twice", p.Address)
		}
		seen[p.Address] = true
		if err := p.Validate(); err != nil {
			return errorsmod.Wrapf(err, "provider %s", p.Address)
		}
	}
	return nil
}
