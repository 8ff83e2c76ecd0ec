package keeper

import "context"

// FillLineage exposes fillLineage, with its batch size, to the tests.
func (k Keeper) FillLineage(ctx context.Context, batch int) (int, error) {
	return k.fillLineage(ctx, batch)
}
