package app

import (
	"crypto/sha256"
	"sync"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// DefaultVerifiedTxCacheSize bounds the verified-signature cache: about 100
// bytes an entry, so a few megabytes, and more transactions than a mempool of
// 50,000 holds.
const DefaultVerifiedTxCacheSize = 100_000

// verifiedTxs remembers, by the SHA-256 of their bytes, the transactions
// whose signatures this node verified in CheckTx (issue #19). When a block
// brings one of them, the ante handler runs with ctx.IsSigverifyTx() false,
// which in SDK v0.53.8 turns off exactly two checks (x/auth/ante/sigverify.go):
//   - SetPubKeyDecorator's check that each public key the transaction carries
//     hashes to its signer's address (the key is still stored on an account
//     that has none). It reads only the transaction's bytes: the public keys
//     are in its signer infos and the signers in its messages, so the answer
//     CheckTx got for these bytes stands.
//   - SigVerificationDecorator's signature verification. It reads the bytes
//     and state that cannot change between the two: the chain id, the account
//     number of an account that already existed, and the account's public
//     key (set once, and only to a key that hashes to the account's address,
//     so the one these bytes carry or the one set before CheckTx).
//
// So verifying again would give the same answer. Everything else runs as
// before: the sequence check and the unordered-nonce check (in
// SigVerificationDecorator, not gated), the signature count, and the gas
// charged for each signature (by SigGasConsumeDecorator whether or not the
// signature is verified), so a node with the cache and one without compute
// the same state and the same gas. TestAnteDecoratorsReviewedForSigCache pins
// the decorator list (anteDecorators) this was reviewed against.
//
// The cache is bounded (the oldest entries are forgotten first) and lives in
// memory only: after a restart every signature is verified again.
type verifiedTxs struct {
	mu    sync.Mutex
	set   map[[32]byte]struct{}
	ring  [][32]byte // insertion order, for eviction
	next  int
	limit int
}

func newVerifiedTxs(limit int) *verifiedTxs {
	return &verifiedTxs{set: make(map[[32]byte]struct{}, limit), ring: make([][32]byte, 0, limit), limit: limit}
}

func (c *verifiedTxs) has(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.set[k]
	return ok
}

func (c *verifiedTxs) add(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.set[k]; ok {
		return
	}
	if len(c.ring) < c.limit {
		c.ring = append(c.ring, k)
	} else {
		delete(c.set, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % c.limit
	}
	c.set[k] = struct{}{}
}

// withVerifiedTxCache wraps an ante handler: a transaction that passes it in
// CheckTx (a first check, not a recheck or a simulation, with signatures
// verified) is remembered; in block execution and proposal processing a
// remembered transaction runs with signature verification off.
func withVerifiedTxCache(cache *verifiedTxs, next sdk.AnteHandler) sdk.AnteHandler {
	return func(ctx sdk.Context, tx sdk.Tx, simulate bool) (sdk.Context, error) {
		raw := ctx.TxBytes()
		if len(raw) == 0 || simulate {
			return next(ctx, tx, simulate)
		}
		key := sha256.Sum256(raw)
		switch ctx.ExecMode() {
		case sdk.ExecModeFinalize, sdk.ExecModeProcessProposal:
			if ctx.IsSigverifyTx() && cache.has(key) {
				newCtx, err := next(ctx.WithIsSigverifyTx(false), tx, simulate)
				return newCtx.WithIsSigverifyTx(true), err
			}
		case sdk.ExecModeCheck:
			newCtx, err := next(ctx, tx, simulate)
			if err == nil && ctx.IsSigverifyTx() {
				cache.add(key)
			}
			return newCtx, err
		}
		return next(ctx, tx, simulate)
	}
}
