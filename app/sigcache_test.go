package app

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"cosmossdk.io/log"
	storetypes "cosmossdk.io/store/types"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

func TestVerifiedTxsEvictsTheOldest(t *testing.T) {
	c := newVerifiedTxs(2)
	k := func(b byte) [32]byte { return [32]byte{b} }
	c.add(k(1))
	c.add(k(2))
	c.add(k(1)) // already there: not a new entry
	require.True(t, c.has(k(1)) && c.has(k(2)))
	c.add(k(3))
	require.False(t, c.has(k(1)), "the oldest goes first")
	require.True(t, c.has(k(2)) && c.has(k(3)))
	c.add(k(4))
	require.False(t, c.has(k(2)))
	require.True(t, c.has(k(3)) && c.has(k(4)))
}

// The cache turns signature verification off only in block execution (and
// proposal processing), only for the bytes of a transaction that passed a
// first CheckTx with verification on; never in CheckTx, recheck or
// simulation; and the context the handler returns has verification on again.
func TestVerifiedTxCacheOnlySkipsWhatCheckTxVerified(t *testing.T) {
	var sawVerify []bool
	fail := false
	next := func(ctx sdk.Context, _ sdk.Tx, _ bool) (sdk.Context, error) {
		sawVerify = append(sawVerify, ctx.IsSigverifyTx())
		if fail {
			return ctx, errors.New("refused")
		}
		return ctx, nil
	}
	cache := newVerifiedTxs(10)
	h := withVerifiedTxCache(cache, next)
	base := sdk.NewContext(nil, cmtproto.Header{}, false, log.NewNopLogger()).WithGasMeter(storetypes.NewInfiniteGasMeter())
	run := func(mode sdk.ExecMode, raw string, simulate bool) bool {
		sawVerify = nil
		ctx, _ := h(base.WithExecMode(mode).WithTxBytes([]byte(raw)), nil, simulate)
		require.True(t, ctx.IsSigverifyTx(), "verification is on again after the ante handler")
		return sawVerify[0]
	}
	// a block transaction never checked here is verified
	require.True(t, run(sdk.ExecModeFinalize, "tx-a", false))
	// a failed CheckTx, a recheck and a simulation remember nothing
	fail = true
	require.True(t, run(sdk.ExecModeCheck, "tx-a", false))
	fail = false
	require.True(t, run(sdk.ExecModeReCheck, "tx-a", false))
	require.True(t, run(sdk.ExecModeSimulate, "tx-a", true))
	require.False(t, cache.has(sha256.Sum256([]byte("tx-a"))))
	require.True(t, run(sdk.ExecModeFinalize, "tx-a", false))
	// once CheckTx verified it, the block skips the signatures, and only for it
	require.True(t, run(sdk.ExecModeCheck, "tx-a", false), "CheckTx itself verifies")
	require.False(t, run(sdk.ExecModeFinalize, "tx-a", false))
	require.False(t, run(sdk.ExecModeProcessProposal, "tx-a", false))
	require.True(t, run(sdk.ExecModeFinalize, "tx-b", false))
	require.True(t, run(sdk.ExecModeCheck, "tx-a", false), "a second CheckTx verifies again")
	// a CheckTx with verification off (not this handler's doing) remembers nothing
	sawVerify = nil
	_, _ = h(base.WithExecMode(sdk.ExecModeCheck).WithTxBytes([]byte("tx-c")).WithIsSigverifyTx(false), nil, false)
	require.False(t, cache.has(sha256.Sum256([]byte("tx-c"))))
}
