package keeper

import (
	"context"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/x/providers/types"
)

// InitGenesis writes the genesis params and providers. The state must have been
// validated (GenesisState.Validate) before.
func (k Keeper) InitGenesis(ctx context.Context, gs *types.GenesisState) error {
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return err
	}
	for _, p := range gs.Providers {
		addr, err := k.addressCodec.StringToBytes(p.Address)
		if err != nil {
			return err
		}
		if err := k.Providers.Set(ctx, addr, p); err != nil {
			return err
		}
	}
	return nil
}

// ExportGenesis returns the params and every provider, in address order.
func (k Keeper) ExportGenesis(ctx context.Context) (*types.GenesisState, error) {
	params, err := k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	gs := &types.GenesisState{Params: params, Providers: []types.Provider{}}
	err = k.Providers.Walk(ctx, nil, func(_ sdk.AccAddress, p types.Provider) (bool, error) {
		gs.Providers = append(gs.Providers, p)
		return false, nil
	})
	return gs, err
}
