// Package simulation is x/providers' part of the app simulation: a random
// registry at genesis and random applications, approvals, status changes and
// updates, each built to be valid for the state it is sent in.
package simulation

import (
	"crypto/sha256"
	"fmt"
	"math/rand"
	"slices"
	"time"

	"github.com/cosmos/gogoproto/proto"

	"github.com/cosmos/cosmos-sdk/baseapp"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/module"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"

	"github.com/healthd-chain/healthd/internal/simutil"
	"github.com/healthd-chain/healthd/x/providers/keeper"
	"github.com/healthd-chain/healthd/x/providers/types"
)

// Module is x/providers' module.AppModuleSimulation.
type Module struct {
	Keeper  keeper.Keeper
	Keepers simutil.Keepers
}

var _ module.AppModuleSimulation = Module{}

// Registrars is how many of the first simulation accounts are registrars.
const Registrars = 2

var kinds = []types.ProviderKind{
	types.PROVIDER_KIND_HOSPITAL, types.PROVIDER_KIND_CLINIC, types.PROVIDER_KIND_LABORATORY, types.PROVIDER_KIND_PHARMACY,
}

// newProvider is a valid registry entry for acc, pending.
func newProvider(r *rand.Rand, acc simtypes.Account, now time.Time) types.Provider {
	cred := sha256.Sum256([]byte(acc.Address.String()))
	return types.Provider{
		Address: acc.Address.String(), Name: fmt.Sprintf("Sim provider %d", r.Intn(1_000_000)),
		Kind: kinds[r.Intn(len(kinds))], LicenseId: fmt.Sprintf("SIM-%06d", r.Intn(1_000_000)), Jurisdiction: "DE",
		EncryptionKey: simutil.EncryptionKey(acc), VaultEndpoint: fmt.Sprintf("https://vault%d.sim.example", r.Intn(1000)),
		Status: types.PROVIDER_STATUS_PENDING, CredentialHash: cred[:], RegisteredAt: now, UpdatedAt: now,
	}
}

// GenerateGenesisState makes the first accounts registrars and up to a third of
// the others providers, mostly active.
func (m Module) GenerateGenesisState(simState *module.SimulationState) {
	params := types.DefaultParams()
	gs := types.GenesisState{Params: params, Providers: []types.Provider{}}
	accs := simState.Accounts
	for i := 0; i < Registrars && i < len(accs); i++ {
		gs.Params.Registrars = append(gs.Params.Registrars, accs[i].Address.String())
	}
	now := simState.GenTimestamp
	for _, acc := range accs[min(Registrars, len(accs)):] {
		if simState.Rand.Intn(3) != 0 {
			continue
		}
		p := newProvider(simState.Rand, acc, now)
		if simState.Rand.Intn(5) != 0 {
			p.Status = types.PROVIDER_STATUS_ACTIVE
			p.CredentialExpiresAt = now.Add(time.Duration(30+simState.Rand.Intn(300)) * 24 * time.Hour)
		}
		gs.Providers = append(gs.Providers, p)
	}
	slices.SortFunc(gs.Providers, func(a, b types.Provider) int {
		x, _ := sdk.AccAddressFromBech32(a.Address)
		y, _ := sdk.AccAddressFromBech32(b.Address)
		return slices.Compare(x, y)
	})
	simState.GenState[types.ModuleName] = simState.Cdc.MustMarshalJSON(&gs)
}

// RegisterStoreDecoder decodes the registry's values.
func (m Module) RegisterStoreDecoder(reg simtypes.StoreDecoderRegistry) {
	reg[types.StoreKey] = simutil.Decoder(m.Keeper.Codec(), map[byte]func() proto.Message{
		types.ParamsKey[0]:    func() proto.Message { return &types.Params{} },
		types.ProvidersKey[0]: func() proto.Message { return &types.Provider{} },
	})
}

// WeightedOperations are the module's random messages.
func (m Module) WeightedOperations(simState module.SimulationState) []simtypes.WeightedOperation {
	return []simtypes.WeightedOperation{
		simutil.Weighted(40, m.apply(simState)),
		simutil.Weighted(40, m.approve(simState)),
		simutil.Weighted(30, m.setStatus(simState)),
		simutil.Weighted(20, m.update(simState)),
	}
}

// registrar returns a registrar's simulation account.
func (m Module) registrar(ctx sdk.Context, r *rand.Rand, accs []simtypes.Account, not string) (simtypes.Account, bool) {
	params, err := m.Keeper.GetParams(ctx)
	if err != nil || len(params.Registrars) == 0 {
		return simtypes.Account{}, false
	}
	for range 4 {
		reg := params.Registrars[r.Intn(len(params.Registrars))]
		if reg == not {
			continue
		}
		if acc, ok := simutil.Find(accs, reg); ok {
			return acc, true
		}
	}
	return simtypes.Account{}, false
}

// randomProvider returns a provider whose status is one of want.
func (m Module) randomProvider(ctx sdk.Context, r *rand.Rand, want ...types.ProviderStatus) (types.Provider, bool) {
	var found []types.Provider
	_ = m.Keeper.Providers.Walk(ctx, nil, func(_ sdk.AccAddress, p types.Provider) (bool, error) {
		if slices.Contains(want, p.Status) {
			found = append(found, p)
		}
		return len(found) >= 64, nil
	})
	if len(found) == 0 {
		return types.Provider{}, false
	}
	return found[r.Intn(len(found))], true
}

func (m Module) apply(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgApplyProvider{})
		acc, _ := simtypes.RandomAcc(r, accs)
		params, err := m.Keeper.GetParams(ctx)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no params"), nil, nil
		}
		if params.IsRegistrar(acc.Address.String()) {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "a registrar"), nil, nil
		}
		if p, err := m.Keeper.GetProvider(ctx, acc.Address); err == nil && p.Status != types.PROVIDER_STATUS_PENDING {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "already registered"), nil, nil
		}
		p := newProvider(r, acc, ctx.BlockTime())
		msg := &types.MsgApplyProvider{
			Applicant: p.Address, Name: p.Name, Kind: p.Kind, LicenseId: p.LicenseId, Jurisdiction: p.Jurisdiction,
			EncryptionKey: p.EncryptionKey, VaultEndpoint: p.VaultEndpoint, CredentialHash: p.CredentialHash,
		}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, acc)
	}
}

func (m Module) approve(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgApproveProvider{})
		p, ok := m.randomProvider(ctx, r, types.PROVIDER_STATUS_PENDING)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no pending provider"), nil, nil
		}
		reg, ok := m.registrar(ctx, r, accs, p.Address)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no registrar"), nil, nil
		}
		expires := ctx.BlockTime().Add(time.Duration(1+r.Intn(300)) * 24 * time.Hour)
		msg := &types.MsgApproveProvider{Approver: reg.Address.String(), Provider: p.Address, CredentialExpiresAt: expires, CredentialHash: p.CredentialHash}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, reg)
	}
}

func (m Module) setStatus(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgSetProviderStatus{})
		p, ok := m.randomProvider(ctx, r, types.PROVIDER_STATUS_ACTIVE, types.PROVIDER_STATUS_SUSPENDED, types.PROVIDER_STATUS_PENDING)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no provider"), nil, nil
		}
		reg, ok := m.registrar(ctx, r, accs, p.Address)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no registrar"), nil, nil
		}
		var to types.ProviderStatus
		switch {
		case r.Intn(10) == 0: // revocation is final: rare
			to = types.PROVIDER_STATUS_REVOKED
		case p.Status == types.PROVIDER_STATUS_ACTIVE:
			to = types.PROVIDER_STATUS_SUSPENDED
		case p.Status == types.PROVIDER_STATUS_SUSPENDED:
			to = types.PROVIDER_STATUS_ACTIVE
		default:
			return simtypes.NoOpMsg(types.ModuleName, msgType, "pending: only revocation"), nil, nil
		}
		reason := types.StatusReason(1 + r.Intn(5))
		msg := &types.MsgSetProviderStatus{Authority: reg.Address.String(), Provider: p.Address, Status: to, Reason: reason}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, reg)
	}
}

func (m Module) update(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgUpdateProvider{})
		p, ok := m.randomProvider(ctx, r, types.PROVIDER_STATUS_ACTIVE, types.PROVIDER_STATUS_SUSPENDED, types.PROVIDER_STATUS_PENDING)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no provider"), nil, nil
		}
		acc, ok := simutil.Find(accs, p.Address)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "not a simulation account"), nil, nil
		}
		endpoint := fmt.Sprintf("https://vault%d.sim.example", r.Intn(1000))
		if endpoint == p.VaultEndpoint { // an update must change something
			endpoint += "/v2"
		}
		msg := &types.MsgUpdateProvider{Provider: p.Address, VaultEndpoint: endpoint}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, acc)
	}
}
