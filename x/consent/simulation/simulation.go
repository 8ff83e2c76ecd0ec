// Package simulation is x/consent's part of the app simulation: registered
// patients at genesis, and random registrations, consents (some carrying key
// grants), revocations (which rotate class-key epochs) and break-glass accesses.
package simulation

import (
	"context"
	"math/rand"
	"slices"
	"time"

	"github.com/cosmos/gogoproto/proto"

	"github.com/cosmos/cosmos-sdk/baseapp"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/module"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"

	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/internal/simutil"
	"github.com/healthd-chain/healthd/x/consent/keeper"
	"github.com/healthd-chain/healthd/x/consent/types"
)

// Providers is what the consent simulation asks the registry.
type Providers interface {
	IsProvider(ctx context.Context, addr sdk.AccAddress) (bool, error)
	IsActive(ctx context.Context, addr sdk.AccAddress) (bool, error)
}

// Module is x/consent's module.AppModuleSimulation.
type Module struct {
	Keeper    keeper.Keeper
	Providers Providers
	Keepers   simutil.Keepers
}

var _ module.AppModuleSimulation = Module{}

// GenerateGenesisState registers about a third of the accounts (past the
// registrars) as patients.
func (m Module) GenerateGenesisState(simState *module.SimulationState) {
	gs := types.DefaultGenesis()
	for i, acc := range simState.Accounts {
		if i < 2 || simState.Rand.Intn(3) != 0 {
			continue
		}
		gs.Patients = append(gs.Patients, types.PatientProfile{
			Address: acc.Address.String(), EncryptionKey: simutil.EncryptionKey(acc), RegisteredAt: simState.GenTimestamp,
		})
	}
	slices.SortFunc(gs.Patients, func(a, b types.PatientProfile) int {
		x, _ := sdk.AccAddressFromBech32(a.Address)
		y, _ := sdk.AccAddressFromBech32(b.Address)
		return slices.Compare(x, y)
	})
	simState.GenState[types.ModuleName] = simState.Cdc.MustMarshalJSON(gs)
}

// RegisterStoreDecoder decodes the module's values.
func (m Module) RegisterStoreDecoder(reg simtypes.StoreDecoderRegistry) {
	reg[types.StoreKey] = simutil.Decoder(m.Keeper.Codec(), map[byte]func() proto.Message{
		types.ParamsKey[0]:   func() proto.Message { return &types.Params{} },
		types.PatientsKey[0]: func() proto.Message { return &types.PatientProfile{} },
		types.ConsentsKey[0]: func() proto.Message { return &types.Consent{} },
	})
}

// WeightedOperations are the module's random messages.
func (m Module) WeightedOperations(simState module.SimulationState) []simtypes.WeightedOperation {
	return []simtypes.WeightedOperation{
		simutil.Weighted(30, m.register(simState)),
		simutil.Weighted(60, m.grant(simState)),
		simutil.Weighted(25, m.revoke(simState)),
		simutil.Weighted(20, m.breakGlass(simState)),
	}
}

// RandomPatient returns a registered patient among the simulation accounts.
func RandomPatient(ctx sdk.Context, r *rand.Rand, k keeper.Keeper, accs []simtypes.Account) (simtypes.Account, bool) {
	for range 8 {
		acc, _ := simtypes.RandomAcc(r, accs)
		if ok, _ := k.IsPatient(ctx, acc.Address); ok {
			return acc, true
		}
	}
	return simtypes.Account{}, false
}

func (m Module) register(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgRegisterPatient{})
		acc, _ := simtypes.RandomAcc(r, accs)
		if ok, _ := m.Keeper.IsPatient(ctx, acc.Address); ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "already a patient"), nil, nil
		}
		msg := &types.MsgRegisterPatient{Patient: acc.Address.String(), EncryptionKey: simutil.EncryptionKey(acc)}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, acc)
	}
}

// pick returns 1 to n distinct elements of from, in from's order.
func pick(r *rand.Rand, from []string, n int) []string {
	var out []string
	for _, i := range r.Perm(len(from))[:1+r.Intn(min(n, len(from)))] {
		out = append(out, from[i])
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(from, a) - slices.Index(from, b) })
	return out
}

// grantPurposes are the purposes a patient grants (ETREAT is break-glass's).
var grantPurposes = []string{"TREAT", "HPAYMT", "HOPERAT", "HRESCH", "PATRQT"}

func (m Module) grant(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgGrantConsent{})
		patient, ok := RandomPatient(ctx, r, m.Keeper, accs)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no patient"), nil, nil
		}
		grantee, _ := simtypes.RandomAcc(r, accs)
		if grantee.Address.Equals(patient.Address) {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "the patient itself"), nil, nil
		}
		isProvider, _ := m.Providers.IsProvider(ctx, grantee.Address)
		isPatient, _ := m.Keeper.IsPatient(ctx, grantee.Address)
		active, _ := m.Providers.IsActive(ctx, grantee.Address)
		if isProvider && !active || !isProvider && !isPatient {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "not a live grantee"), nil, nil
		}
		msg := &types.MsgGrantConsent{
			Signer: patient.Address.String(), Grantee: grantee.Address.String(),
			Permissions: pick(r, types.Permissions, 2), DataClasses: pick(r, types.DataClasses, 3),
			Purposes: pick(r, grantPurposes, 2), Duration: time.Duration(1+r.Intn(30*24)) * time.Hour,
		}
		if r.Intn(2) == 0 { // a key grant per class, at its current epoch; the HPKE part is opaque to the chain
			for _, class := range msg.DataClasses {
				epoch, err := m.Keeper.ClassKeyEpoch(ctx, patient.Address, class)
				if err != nil {
					return simtypes.NoOpMsg(types.ModuleName, msgType, "no epoch"), nil, nil
				}
				sealed := make([]byte, crypto.GrantSealedSize)
				r.Read(sealed)
				g, err := crypto.EncodeGrant(class, epoch, sealed)
				if err != nil {
					return simtypes.NoOpMsg(types.ModuleName, msgType, err.Error()), nil, nil
				}
				msg.KeyGrants = append(msg.KeyGrants, g)
			}
		}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, patient)
	}
}

func (m Module) revoke(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgRevokeConsent{})
		var live []types.Consent
		_ = m.Keeper.Consents.Walk(ctx, nil, func(_ uint64, c types.Consent) (bool, error) {
			if c.Status == types.CONSENT_STATUS_ACTIVE && ctx.BlockTime().Before(c.Period.End) && !c.Emergency {
				live = append(live, c)
			}
			return len(live) >= 64, nil
		})
		if len(live) == 0 {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no live consent"), nil, nil
		}
		c := live[r.Intn(len(live))]
		patient, ok := simutil.Find(accs, c.Patient)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "patient not a simulation account"), nil, nil
		}
		msg := &types.MsgRevokeConsent{Signer: c.Patient, ConsentId: c.Id}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, patient)
	}
}

func (m Module) breakGlass(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgBreakGlass{})
		provider, _ := simtypes.RandomAcc(r, accs)
		if active, _ := m.Providers.IsActive(ctx, provider.Address); !active {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "not an active provider"), nil, nil
		}
		patient, ok := RandomPatient(ctx, r, m.Keeper, accs)
		if !ok || patient.Address.Equals(provider.Address) {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no other patient"), nil, nil
		}
		params, err := m.Keeper.Params.Get(ctx)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no params"), nil, nil
		}
		msg := &types.MsgBreakGlass{
			Provider: provider.Address.String(), Patient: patient.Address.String(),
			Reason: types.EmergencyReason(1 + r.Intn(4)), Note: "simulated emergency",
			Duration: time.Duration(1 + r.Int63n(int64(params.MaxEmergencyDuration))),
		}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, provider)
	}
}
