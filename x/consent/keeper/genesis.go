package keeper

import (
	"context"

	"cosmossdk.io/collections"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/x/consent/types"
)

// InitGenesis writes the genesis state (validated before) and rebuilds the
// indexes and the expiry queue of the active consents.
func (k Keeper) InitGenesis(ctx context.Context, gs *types.GenesisState) error {
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return err
	}
	for _, p := range gs.Patients {
		addr, err := k.addressCodec.StringToBytes(p.Address)
		if err != nil {
			return err
		}
		if err := k.Patients.Set(ctx, addr, p); err != nil {
			return err
		}
	}
	for _, c := range gs.Consents {
		if err := k.Consents.Set(ctx, c.Id, c); err != nil {
			return err
		}
		if c.Status == types.CONSENT_STATUS_ACTIVE {
			if err := k.ExpiryQueue.Set(ctx, QueueKey(c)); err != nil {
				return err
			}
			if c.Emergency {
				if err := k.LiveEmergencies.Set(ctx, c.Id); err != nil {
					return err
				}
			}
		}
	}
	for _, e := range gs.KeyEpochs {
		addr, err := k.addressCodec.StringToBytes(e.Patient)
		if err != nil {
			return err
		}
		if err := k.KeyEpochs.Set(ctx, collections.Join(sdk.AccAddress(addr), e.DataClass), e.Epoch); err != nil {
			return err
		}
	}
	for _, e := range gs.Escrows {
		addr, err := k.addressCodec.StringToBytes(e.Patient)
		if err != nil {
			return err
		}
		if err := k.Escrows.Set(ctx, addr, e); err != nil {
			return err
		}
	}
	for _, r := range gs.Releases {
		patient, err := k.addressCodec.StringToBytes(r.Patient)
		if err != nil {
			return err
		}
		custodian, err := k.addressCodec.StringToBytes(r.Custodian)
		if err != nil {
			return err
		}
		if err := k.Releases.Set(ctx, collections.Join3(sdk.AccAddress(patient), r.AccessId, sdk.AccAddress(custodian)), r); err != nil {
			return err
		}
	}
	return k.ConsentSeq.Set(ctx, gs.NextConsentId)
}

// ExportGenesis returns the params, patients (address order), consents (id order,
// stored status) and the next consent id.
func (k Keeper) ExportGenesis(ctx context.Context) (*types.GenesisState, error) {
	params, err := k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	gs := &types.GenesisState{
		Params: params, Patients: []types.PatientProfile{}, Consents: []types.Consent{}, KeyEpochs: []types.ClassKeyEpoch{},
		Escrows: []types.KeyEscrow{}, Releases: []types.KeyRelease{},
	}
	if err := k.Patients.Walk(ctx, nil, func(_ sdk.AccAddress, p types.PatientProfile) (bool, error) {
		gs.Patients = append(gs.Patients, p)
		return false, nil
	}); err != nil {
		return nil, err
	}
	if err := k.Consents.Walk(ctx, nil, func(_ uint64, c types.Consent) (bool, error) {
		gs.Consents = append(gs.Consents, c)
		return false, nil
	}); err != nil {
		return nil, err
	}
	if err := k.KeyEpochs.Walk(ctx, nil, func(key collections.Pair[sdk.AccAddress, string], e uint64) (bool, error) {
		patient, err := k.addressCodec.BytesToString(key.K1())
		gs.KeyEpochs = append(gs.KeyEpochs, types.ClassKeyEpoch{Patient: patient, DataClass: key.K2(), Epoch: e})
		return false, err
	}); err != nil {
		return nil, err
	}
	if err := k.Escrows.Walk(ctx, nil, func(_ sdk.AccAddress, e types.KeyEscrow) (bool, error) {
		gs.Escrows = append(gs.Escrows, e)
		return false, nil
	}); err != nil {
		return nil, err
	}
	if err := k.Releases.Walk(ctx, nil, func(_ collections.Triple[sdk.AccAddress, uint64, sdk.AccAddress], r types.KeyRelease) (bool, error) {
		gs.Releases = append(gs.Releases, r)
		return false, nil
	}); err != nil {
		return nil, err
	}
	gs.NextConsentId, err = k.ConsentSeq.Peek(ctx)
	return gs, err
}
