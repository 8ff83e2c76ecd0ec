package app

import (
	"encoding/json"
	"fmt"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	servertypes "github.com/cosmos/cosmos-sdk/server/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	slashingtypes "github.com/cosmos/cosmos-sdk/x/slashing/types"
	"github.com/cosmos/cosmos-sdk/x/staking"
	stakingtypes "github.com/cosmos/cosmos-sdk/x/staking/types"
)

// ExportAppStateAndValidators exports the state of every module (or of
// modulesToExport) and the validator set, for `healthd export`. With forZeroHeight
// the state is first rewritten so that a new chain can start from it at height 0
// (rewards withdrawn, heights reset, validators not in jailAllowedAddrs jailed).
func (app *HealthApp) ExportAppStateAndValidators(
	forZeroHeight bool, jailAllowedAddrs, modulesToExport []string,
) (servertypes.ExportedApp, error) {
	// A context at the last committed height, on a cached (never written) state.
	ctx := app.NewContextLegacy(true, cmtproto.Header{Height: app.LastBlockHeight()})

	// The exported genesis starts at the next height, so that a chain restarted from
	// it keeps its block numbers (its genesis sets initial_height to this value).
	height := app.LastBlockHeight() + 1
	if forZeroHeight {
		height = 0
		if err := app.prepForZeroHeightGenesis(ctx, jailAllowedAddrs); err != nil {
			return servertypes.ExportedApp{}, fmt.Errorf("prepare zero-height genesis: %w", err)
		}
	}

	genState, err := app.ModuleManager.ExportGenesisForModules(ctx, app.appCodec, modulesToExport)
	if err != nil {
		return servertypes.ExportedApp{}, err
	}
	appState, err := json.MarshalIndent(genState, "", "  ")
	if err != nil {
		return servertypes.ExportedApp{}, err
	}
	validators, err := staking.WriteValidators(ctx, app.StakingKeeper)
	if err != nil {
		return servertypes.ExportedApp{}, err
	}
	return servertypes.ExportedApp{
		AppState:        appState,
		Validators:      validators,
		Height:          height,
		ConsensusParams: app.GetConsensusParams(ctx),
	}, nil
}

// prepForZeroHeightGenesis rewrites distribution, staking and slashing state so that
// it is valid at height 0: every reward is withdrawn and re-initialised, every
// recorded height is reset to 0, and validators not listed in jailAllowedAddrs (if
// any are listed) are jailed.
func (app *HealthApp) prepForZeroHeightGenesis(ctx sdk.Context, jailAllowedAddrs []string) error {
	allowed := make(map[string]bool, len(jailAllowedAddrs))
	for _, addr := range jailAllowedAddrs {
		if _, err := app.StakingKeeper.ValidatorAddressCodec().StringToBytes(addr); err != nil {
			return fmt.Errorf("jail-allowed address %q: %w", addr, err)
		}
		allowed[addr] = true
	}

	validators, err := app.validatorOperators(ctx)
	if err != nil {
		return err
	}
	delegations, err := app.delegationPairs(ctx)
	if err != nil {
		return err
	}

	// Distribution: withdraw every commission and every delegator reward.
	for _, val := range validators {
		// A validator with no commission yet returns an error; nothing to withdraw.
		_, _ = app.DistrKeeper.WithdrawValidatorCommission(ctx, val)
	}
	for _, d := range delegations {
		if _, err := app.DistrKeeper.WithdrawDelegationRewards(ctx, d.delegator, d.validator); err != nil {
			return fmt.Errorf("withdraw rewards of %s: %w", sdk.AccAddress(d.delegator), err)
		}
	}
	app.DistrKeeper.DeleteAllValidatorSlashEvents(ctx)
	app.DistrKeeper.DeleteAllValidatorHistoricalRewards(ctx)

	// Re-initialise validators and delegations at height 0; rounding leftovers of
	// the outstanding rewards go to the community pool.
	lastHeight := ctx.BlockHeight()
	ctx = ctx.WithBlockHeight(0)
	for _, val := range validators {
		scraps, err := app.DistrKeeper.GetValidatorOutstandingRewardsCoins(ctx, val)
		if err != nil {
			return err
		}
		feePool, err := app.DistrKeeper.FeePool.Get(ctx)
		if err != nil {
			return err
		}
		feePool.CommunityPool = feePool.CommunityPool.Add(scraps...)
		if err := app.DistrKeeper.FeePool.Set(ctx, feePool); err != nil {
			return err
		}
		if err := app.DistrKeeper.Hooks().AfterValidatorCreated(ctx, val); err != nil {
			return err
		}
	}
	for _, d := range delegations {
		if err := app.DistrKeeper.Hooks().BeforeDelegationCreated(ctx, d.delegator, d.validator); err != nil {
			return err
		}
		if err := app.DistrKeeper.Hooks().AfterDelegationModified(ctx, d.delegator, d.validator); err != nil {
			return err
		}
	}
	ctx = ctx.WithBlockHeight(lastHeight)

	// Staking: reset the creation heights of redelegation and unbonding entries.
	redelegations, err := collect(func(f func(int64, stakingtypes.Redelegation) bool) error {
		return app.StakingKeeper.IterateRedelegations(ctx, f)
	})
	if err != nil {
		return err
	}
	for _, red := range redelegations {
		for i := range red.Entries {
			red.Entries[i].CreationHeight = 0
		}
		if err := app.StakingKeeper.SetRedelegation(ctx, red); err != nil {
			return err
		}
	}
	unbondings, err := collect(func(f func(int64, stakingtypes.UnbondingDelegation) bool) error {
		return app.StakingKeeper.IterateUnbondingDelegations(ctx, f)
	})
	if err != nil {
		return err
	}
	for _, ubd := range unbondings {
		for i := range ubd.Entries {
			ubd.Entries[i].CreationHeight = 0
		}
		if err := app.StakingKeeper.SetUnbondingDelegation(ctx, ubd); err != nil {
			return err
		}
	}

	// Staking: reset unbonding heights, and jail validators not on the allow list.
	// Jailing goes through the staking keeper, which also takes the validator out
	// of the power index: a jailed validator left there makes the validator-set
	// update below fail.
	for _, valBz := range validators {
		val, err := app.StakingKeeper.GetValidator(ctx, valBz)
		if err != nil {
			return err
		}
		val.UnbondingHeight = 0
		if err := app.StakingKeeper.SetValidator(ctx, val); err != nil {
			return err
		}
		if len(allowed) > 0 && !allowed[val.OperatorAddress] && !val.Jailed {
			consAddr, err := val.GetConsAddr()
			if err != nil {
				return err
			}
			if err := app.StakingKeeper.Jail(ctx, consAddr); err != nil {
				return fmt.Errorf("jail %s: %w", val.OperatorAddress, err)
			}
		}
	}
	if _, err := app.StakingKeeper.ApplyAndReturnValidatorSetUpdates(ctx); err != nil {
		return err
	}

	// Slashing: signing windows start again at height 0.
	type signingInfo struct {
		addr sdk.ConsAddress
		info slashingtypes.ValidatorSigningInfo
	}
	var infos []signingInfo
	err = app.SlashingKeeper.IterateValidatorSigningInfos(ctx,
		func(addr sdk.ConsAddress, info slashingtypes.ValidatorSigningInfo) bool {
			infos = append(infos, signingInfo{addr, info})
			return false
		})
	if err != nil {
		return err
	}
	for _, si := range infos {
		si.info.StartHeight = 0
		if err := app.SlashingKeeper.SetValidatorSigningInfo(ctx, si.addr, si.info); err != nil {
			return err
		}
	}
	return nil
}

// validatorOperators returns the operator address of every validator.
func (app *HealthApp) validatorOperators(ctx sdk.Context) ([]sdk.ValAddress, error) {
	vals, err := collect(func(f func(int64, stakingtypes.ValidatorI) bool) error {
		return app.StakingKeeper.IterateValidators(ctx, f)
	})
	if err != nil {
		return nil, err
	}
	out := make([]sdk.ValAddress, len(vals))
	for i, v := range vals {
		bz, err := app.StakingKeeper.ValidatorAddressCodec().StringToBytes(v.GetOperator())
		if err != nil {
			return nil, err
		}
		out[i] = bz
	}
	return out, nil
}

// delegationPair is one delegation's delegator and validator, decoded.
type delegationPair struct {
	delegator sdk.AccAddress
	validator sdk.ValAddress
}

// delegationPairs returns every delegation, addresses decoded.
func (app *HealthApp) delegationPairs(ctx sdk.Context) ([]delegationPair, error) {
	dels, err := app.StakingKeeper.GetAllDelegations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]delegationPair, len(dels))
	for i, d := range dels {
		del, err := app.AccountKeeper.AddressCodec().StringToBytes(d.DelegatorAddress)
		if err != nil {
			return nil, err
		}
		val, err := app.StakingKeeper.ValidatorAddressCodec().StringToBytes(d.ValidatorAddress)
		if err != nil {
			return nil, err
		}
		out[i] = delegationPair{delegator: del, validator: val}
	}
	return out, nil
}

// collect gathers everything an SDK iterator yields, so that state is written
// after the iteration (writing while iterating a store is unsafe).
func collect[T any](iterate func(func(int64, T) bool) error) ([]T, error) {
	var out []T
	err := iterate(func(_ int64, v T) bool {
		out = append(out, v)
		return false
	})
	return out, err
}
