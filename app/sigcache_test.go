package app

import (
	"crypto/sha256"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"cosmossdk.io/log"
	storetypes "cosmossdk.io/store/types"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/x/auth/ante"
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

// reviewedSDK is the SDK whose ante decorators the verified-tx cache was
// reviewed against (sigcache.go).
const reviewedSDK = "v0.53.8"

// TestAnteDecoratorsReviewedForSigCache pins the ante chain the verified-tx
// cache was reviewed against. The cache runs a block's transaction with
// ctx.IsSigverifyTx() false when CheckTx verified the same bytes, which is
// sound only while every decorator gated on IsSigverifyTx reads nothing but
// the transaction's bytes and state that cannot change between CheckTx and
// block execution (the chain id, an existing account's number and public
// key): otherwise a block could carry a transaction that a node without the
// cache refuses, and the two would disagree on the state. Adding, removing,
// reordering or replacing a decorator, or upgrading the SDK (whose decorators
// may start or stop reading IsSigverifyTx, or read something else), fails
// this test: re-review the cache (grep the SDK for IsSigverifyTx, read what
// each gated check reads), then update this list, reviewedSDK and the
// comment on verifiedTxs.
func TestAnteDecoratorsReviewedForSigCache(t *testing.T) {
	want := []struct {
		decorator sdk.AnteDecorator
		// gated is what the decorator skips when IsSigverifyTx is false, and
		// what that check reads ("" if it reads no IsSigverifyTx)
		gated string
	}{
		{decorator: PermissionedValidatorsDecorator{}},
		{decorator: ante.SetUpContextDecorator{}},
		{decorator: ante.RejectExtensionOptionsDecorator{}},
		{decorator: ante.ValidateBasicDecorator{}},
		{decorator: ante.TxTimeoutHeightDecorator{}},
		{decorator: ante.ValidateMemoDecorator{}},
		{decorator: ante.ConsumeTxSizeGasDecorator{}},
		{decorator: ante.DeductFeeDecorator{}},
		{
			decorator: ante.SetPubKeyDecorator{},
			gated:     "each public key hashes to its signer's address: reads the tx bytes only (signer infos, messages)",
		},
		{decorator: ante.ValidateSigCountDecorator{}},
		{decorator: ante.SigGasConsumeDecorator{}}, // charges the same gas either way
		{
			decorator: ante.SigVerificationDecorator{},
			gated: "the signatures: read the tx bytes, the chain id, the account number and public key " +
				"of an account that existed at CheckTx (the sequence and unordered-nonce checks are not gated)",
		},
		{decorator: ante.IncrementSequenceDecorator{}},
	}
	got := anteDecorators(HandlerOptions{})
	names := func(n int, at func(int) sdk.AnteDecorator) []string {
		out := make([]string, n)
		for i := range n {
			out[i] = reflect.TypeOf(at(i)).String()
		}
		return out
	}
	require.Equal(t,
		names(len(want), func(i int) sdk.AnteDecorator { return want[i].decorator }),
		names(len(got), func(i int) sdk.AnteDecorator { return got[i] }),
		"the ante decorators changed: re-review the verified-tx cache (sigcache.go) before updating this list")

	// test binaries carry no module versions (debug.ReadBuildInfo): read go.mod
	// (the test runs in app/)
	gomod, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	var versions []string
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/cosmos/cosmos-sdk" {
			versions = append(versions, strings.Join(f[1:], " ")) // a replace shows as "=> …"
		}
	}
	require.Equal(t, []string{reviewedSDK}, versions,
		"the SDK changed: re-review which of its ante decorators read IsSigverifyTx and what they read (sigcache.go)")
}
