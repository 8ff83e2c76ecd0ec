package keeper

import (
	"context"

	"cosmossdk.io/collections"

	"github.com/healthd-chain/healthd/x/consent/types"
)

// EndBlocker marks ended consents expired, oldest end first, at most
// params.max_prunes_per_block per block. It only tidies state and emits the
// expiry events: CheckAccess already denies an ended consent at the block time
// its period ends, whether or not it has been marked here, so a backlog (many
// consents ending in the same second) delays bookkeeping, never a denial.
func (k Keeper) EndBlocker(ctx context.Context) error {
	params, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	now := blockTime(ctx)

	// Collect first, write after: never write a store while iterating it.
	var due []collections.Pair[int64, uint64]
	err = k.ExpiryQueue.Walk(ctx, nil, func(key collections.Pair[int64, uint64]) (bool, error) {
		// A consent is valid while block time < end; its key is the end rounded
		// up to the second, so key <= now (in whole seconds) means end <= now.
		if key.K1() > now.Unix() || uint32(len(due)) >= params.MaxPrunesPerBlock {
			return true, nil
		}
		due = append(due, key)
		return false, nil
	})
	if err != nil {
		return err
	}
	for _, key := range due {
		c, err := k.Consents.Get(ctx, key.K2())
		if err != nil {
			return err
		}
		if err := k.end(ctx, c, types.CONSENT_STATUS_EXPIRED); err != nil {
			return err
		}
		if err := emit(ctx, &types.EventConsentExpired{Id: c.Id, Patient: c.Patient, Grantee: c.Grantee}); err != nil {
			return err
		}
	}
	return nil
}
