package keeper

import (
	"context"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/x/records/types"
)

// Migrator runs the store migrations of x/records, one per consensus version
// step; the app's upgrade handlers call them through the module manager.
type Migrator struct{ k Keeper }

// NewMigrator returns the records migrator.
func NewMigrator(k Keeper) Migrator { return Migrator{k: k} }

// Migrate1to2 (upgrade v2) fills root_id and version of every record written
// before them.
func (m Migrator) Migrate1to2(ctx sdk.Context) error {
	n, err := m.k.fillLineage(ctx, lineageBatch)
	if err != nil {
		return err
	}
	ctx.Logger().Info("x/records migration 1 -> 2: root_id and version filled", "records", n)
	return nil
}

// lineageBatch bounds how many records fillLineage holds in memory at once.
const lineageBatch = 10_000

// fillLineage sets root_id and version on every record that has none, in
// ascending id order (an amendment always has a larger id than the record it
// supersedes, so its predecessor is stamped first), and returns how many it
// set. It reads batch records, then writes them, so that no write happens
// under an open iterator.
func (k Keeper) fillLineage(ctx context.Context, batch int) (int, error) {
	filled := 0
	from := uint64(0)
	for {
		read := make([]types.Record, 0, batch)
		rng := new(collections.Range[uint64]).StartInclusive(from)
		if err := k.Records.Walk(ctx, rng, func(_ uint64, r types.Record) (bool, error) {
			read = append(read, r)
			return len(read) == batch, nil
		}); err != nil {
			return filled, err
		}
		stamped := make(map[uint64]types.Record, len(read))
		for _, r := range read {
			if r.RootId == 0 {
				var prev *types.Record
				if r.Supersedes != 0 {
					p, ok := stamped[r.Supersedes]
					if !ok {
						got, err := k.Records.Get(ctx, r.Supersedes)
						if err != nil {
							return filled, errorsmod.Wrapf(err, "record %d supersedes %d", r.Id, r.Supersedes)
						}
						p = got
					}
					prev = &p
				}
				r.RootId, r.Version = types.LineageOf(r.Id, prev)
				if err := k.Records.Set(ctx, r.Id, r); err != nil {
					return filled, err
				}
				filled++
			}
			stamped[r.Id] = r
		}
		if len(read) < batch {
			return filled, nil
		}
		from = read[len(read)-1].Id + 1
	}
}
