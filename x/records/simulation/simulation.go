// Package simulation is x/records' part of the app simulation: random batches
// of record commitments (by patients, and by providers under a live write
// consent, always under the current class-key epoch), reads with receipts,
// amendments and erasures.
package simulation

import (
	"context"
	"fmt"
	"math/rand"
	"slices"

	"github.com/cosmos/gogoproto/proto"

	"github.com/cosmos/cosmos-sdk/baseapp"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/module"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"

	"github.com/healthd-chain/healthd/internal/simutil"
	consentkeeper "github.com/healthd-chain/healthd/x/consent/keeper"
	consentsim "github.com/healthd-chain/healthd/x/consent/simulation"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	"github.com/healthd-chain/healthd/x/records/keeper"
	"github.com/healthd-chain/healthd/x/records/types"
)

// Providers is what the records simulation asks the registry.
type Providers interface {
	IsActive(ctx context.Context, addr sdk.AccAddress) (bool, error)
}

// Module is x/records' module.AppModuleSimulation.
type Module struct {
	Keeper    keeper.Keeper
	Consent   consentkeeper.Keeper
	Providers Providers
	Keepers   simutil.Keepers
}

var _ module.AppModuleSimulation = Module{}

// GenerateGenesisState starts with no records, at default params.
func (m Module) GenerateGenesisState(simState *module.SimulationState) {
	simState.GenState[types.ModuleName] = simState.Cdc.MustMarshalJSON(types.DefaultGenesis())
}

// RegisterStoreDecoder decodes the module's values.
func (m Module) RegisterStoreDecoder(reg simtypes.StoreDecoderRegistry) {
	reg[types.StoreKey] = simutil.Decoder(m.Keeper.Codec(), map[byte]func() proto.Message{
		types.ParamsKey[0]:   func() proto.Message { return &types.Params{} },
		types.RecordsKey[0]:  func() proto.Message { return &types.Record{} },
		types.ReceiptsKey[0]: func() proto.Message { return &types.AccessReceipt{} },
	})
}

// WeightedOperations are the module's random messages.
func (m Module) WeightedOperations(simState module.SimulationState) []simtypes.WeightedOperation {
	return []simtypes.WeightedOperation{
		simutil.Weighted(40, m.createByPatient(simState)),
		simutil.Weighted(40, m.createByProvider(simState)),
		simutil.Weighted(30, m.access(simState)),
		simutil.Weighted(10, m.amend(simState)),
		simutil.Weighted(8, m.erase(simState)),
	}
}

// entry is a valid commitment to made-up ciphertext, under the patient's
// current class-key epoch.
func (m Module) entry(ctx sdk.Context, r *rand.Rand, patient sdk.AccAddress, class string) (types.RecordEntry, error) {
	epoch, err := m.Consent.ClassKeyEpoch(ctx, patient, class)
	if err != nil {
		return types.RecordEntry{}, err
	}
	hash := make([]byte, 32)
	r.Read(hash)
	envelope := make([]byte, 60)
	r.Read(envelope)
	return types.RecordEntry{
		DataClass: class, FhirResourceType: "Observation", ContentHash: hash, Size_: uint64(1 + r.Intn(1<<20)),
		StorageUri: fmt.Sprintf("vault://vault.sim.example/%x", hash), KeyEnvelope: envelope, KeyEpoch: epoch,
	}, nil
}

func (m Module) batch(ctx sdk.Context, r *rand.Rand, patient sdk.AccAddress, classes []string) ([]types.RecordEntry, error) {
	params, err := m.Keeper.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	n := 1 + r.Intn(int(min(params.MaxBatchSize, 8)))
	entries := make([]types.RecordEntry, n)
	for i := range entries {
		if entries[i], err = m.entry(ctx, r, patient, classes[r.Intn(len(classes))]); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

func (m Module) createByPatient(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgCreateRecords{})
		patient, ok := consentsim.RandomPatient(ctx, r, m.Consent, accs)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no patient"), nil, nil
		}
		entries, err := m.batch(ctx, r, patient.Address, consenttypes.DataClasses)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, msgType, err.Error()), nil, nil
		}
		msg := &types.MsgCreateRecords{Author: patient.Address.String(), Purpose: "PATRQT", Entries: entries}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, patient)
	}
}

// liveConsent returns a live consent (not break-glass) giving permission whose
// grantee is a simulation account, with that account.
func (m Module) liveConsent(ctx sdk.Context, r *rand.Rand, accs []simtypes.Account, permission string,
) (consenttypes.Consent, simtypes.Account, bool) {
	var live []consenttypes.Consent
	now := ctx.BlockTime()
	_ = m.Consent.Consents.Walk(ctx, nil, func(_ uint64, c consenttypes.Consent) (bool, error) {
		if c.Status == consenttypes.CONSENT_STATUS_ACTIVE && !now.Before(c.Period.Start) && now.Before(c.Period.End) &&
			!c.Emergency && c.DataPeriod == nil && slices.Contains(c.Permissions, permission) {
			live = append(live, c)
		}
		return len(live) >= 64, nil
	})
	if len(live) == 0 {
		return consenttypes.Consent{}, simtypes.Account{}, false
	}
	c := live[r.Intn(len(live))]
	acc, ok := simutil.Find(accs, c.Grantee)
	return c, acc, ok
}

func (m Module) createByProvider(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgCreateRecords{})
		c, author, ok := m.liveConsent(ctx, r, accs, consenttypes.PermissionWrite)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no live write consent of an active provider"), nil, nil
		}
		if active, _ := m.Providers.IsActive(ctx, author.Address); !active {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no live write consent of an active provider"), nil, nil
		}
		patient, err := sdk.AccAddressFromBech32(c.Patient)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "bad patient"), nil, nil
		}
		purpose := c.Purposes[r.Intn(len(c.Purposes))]
		// the consent allows it unless a newer event changed that: ask the rule
		for _, class := range c.DataClasses {
			d, err := m.Consent.CheckAccess(ctx, patient, author.Address, class, consenttypes.PermissionWrite, purpose, ctx.BlockTime(), nil)
			if err != nil || !d.Allowed {
				return simtypes.NoOpMsg(types.ModuleName, msgType, "write not allowed now"), nil, nil
			}
		}
		entries, err := m.batch(ctx, r, patient, c.DataClasses)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, msgType, err.Error()), nil, nil
		}
		msg := &types.MsgCreateRecords{Author: author.Address.String(), Patient: c.Patient, Purpose: purpose, Entries: entries}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, author)
	}
}

// activeRecord returns an active record of a simulation patient, with the patient.
func (m Module) activeRecord(ctx sdk.Context, r *rand.Rand, accs []simtypes.Account) (types.Record, simtypes.Account, bool) {
	var recs []types.Record
	_ = m.Keeper.Records.Walk(ctx, nil, func(_ uint64, rec types.Record) (bool, error) {
		if rec.Status == types.RECORD_STATUS_ACTIVE {
			recs = append(recs, rec)
		}
		return len(recs) >= 128, nil
	})
	if len(recs) == 0 {
		return types.Record{}, simtypes.Account{}, false
	}
	rec := recs[r.Intn(len(recs))]
	patient, ok := simutil.Find(accs, rec.Patient)
	return rec, patient, ok
}

func (m Module) access(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgAccessRecord{})
		rec, patient, ok := m.activeRecord(ctx, r, accs)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no active record"), nil, nil
		}
		reader, purpose := patient, "PATRQT"
		// half the time, a grantee the patient's consents allow to read it
		if r.Intn(2) == 0 {
			if c, grantee, ok := m.liveConsent(ctx, r, accs, consenttypes.PermissionRead); ok && c.Patient == rec.Patient {
				p := c.Purposes[r.Intn(len(c.Purposes))]
				d, err := m.Consent.CheckAccess(ctx, patient.Address, grantee.Address, rec.DataClass, consenttypes.PermissionRead, p, rec.CreatedAt, nil)
				if err == nil && d.Allowed {
					reader, purpose = grantee, p
				}
			}
		}
		msg := &types.MsgAccessRecord{Accessor: reader.Address.String(), RecordId: rec.Id, Purpose: purpose}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, reader)
	}
}

func (m Module) amend(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgAmendRecord{})
		rec, patient, ok := m.activeRecord(ctx, r, accs)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no active record"), nil, nil
		}
		e, err := m.entry(ctx, r, patient.Address, rec.DataClass)
		if err != nil {
			return simtypes.NoOpMsg(types.ModuleName, msgType, err.Error()), nil, nil
		}
		msg := &types.MsgAmendRecord{Author: patient.Address.String(), RecordId: rec.Id, Purpose: "PATRQT", Entry: e}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, patient)
	}
}

func (m Module) erase(simState module.SimulationState) simtypes.Operation {
	return func(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, accs []simtypes.Account, _ string,
	) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
		msgType := sdk.MsgTypeURL(&types.MsgEraseRecord{})
		rec, patient, ok := m.activeRecord(ctx, r, accs)
		if !ok {
			return simtypes.NoOpMsg(types.ModuleName, msgType, "no active record"), nil, nil
		}
		msg := &types.MsgEraseRecord{Signer: patient.Address.String(), RecordId: rec.Id}
		return simutil.Deliver(r, app, ctx, simState.TxConfig, m.Keepers, types.ModuleName, msg, patient)
	}
}
