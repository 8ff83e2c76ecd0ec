package keeper

import (
	"context"

	"github.com/healthd-chain/healthd/x/records/types"
)

// InitGenesis writes the genesis state (validated before); the indexes are
// rebuilt by the indexed maps, and records without root_id and version get
// them.
func (k Keeper) InitGenesis(ctx context.Context, gs *types.GenesisState) error {
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return err
	}
	for _, r := range gs.Records {
		if err := k.Records.Set(ctx, r.Id, r); err != nil {
			return err
		}
	}
	for _, rc := range gs.Receipts {
		if err := k.Receipts.Set(ctx, rc.Id, rc); err != nil {
			return err
		}
	}
	if stampsLineage {
		// a genesis exported before upgrade v2 has records without root_id
		// and version: fill them as the v2 migration does.
		if _, err := k.fillLineage(ctx, lineageBatch); err != nil {
			return err
		}
	}
	if err := k.RecordSeq.Set(ctx, gs.NextRecordId); err != nil {
		return err
	}
	return k.ReceiptSeq.Set(ctx, gs.NextReceiptId)
}

// ExportGenesis returns params, records and receipts in id order, and the next ids.
func (k Keeper) ExportGenesis(ctx context.Context) (*types.GenesisState, error) {
	params, err := k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	gs := &types.GenesisState{Params: params, Records: []types.Record{}, Receipts: []types.AccessReceipt{}}
	if err := k.Records.Walk(ctx, nil, func(_ uint64, r types.Record) (bool, error) {
		gs.Records = append(gs.Records, r)
		return false, nil
	}); err != nil {
		return nil, err
	}
	if err := k.Receipts.Walk(ctx, nil, func(_ uint64, r types.AccessReceipt) (bool, error) {
		gs.Receipts = append(gs.Receipts, r)
		return false, nil
	}); err != nil {
		return nil, err
	}
	if gs.NextRecordId, err = k.RecordSeq.Peek(ctx); err != nil {
		return nil, err
	}
	gs.NextReceiptId, err = k.ReceiptSeq.Peek(ctx)
	return gs, err
}
