package agent

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
	gogoproto "github.com/cosmos/gogoproto/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	errorsmod "cosmossdk.io/errors"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/tx"
	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
	authtx "github.com/cosmos/cosmos-sdk/x/auth/tx"
)

// TxError is a transaction the chain refused: at CheckTx, before any block
// (Height 0), or when its block ran it.
type TxError struct {
	Hash      string
	Height    int64
	Codespace string
	Code      uint32
	Log       string
	GasWanted int64
}

func (e *TxError) Error() string {
	if e.Height == 0 {
		return fmt.Sprintf("transaction rejected (code %d, codespace %q): %s", e.Code, e.Codespace, e.Log)
	}
	return fmt.Sprintf("transaction %s failed in block %d (code %d, codespace %q): %s%s",
		e.Hash, e.Height, e.Code, e.Codespace, e.Log, e.outOfGasHint())
}

// Is makes errors.Is(err, types.ErrX) hold for the chain's registered error
// of the same codespace and code.
func (e *TxError) Is(target error) bool {
	var reg *errorsmod.Error
	return errors.As(target, &reg) && reg.Codespace() == e.Codespace && reg.ABCICode() == e.Code
}

// outOfGasHint tells how to get past an out-of-gas failure: the SDK's default
// gas limit (200,000) is too small for, say, a consent carrying several key
// grants. (Simulating by default would hide the chain's error codes: a refused
// simulation reports no codespace.)
func (e *TxError) outOfGasHint() string {
	if e.Codespace != sdkerrors.RootCodespace || e.Code != sdkerrors.ErrOutOfGas.ABCICode() {
		return ""
	}
	return fmt.Sprintf(" (the transaction needs more gas than its limit of %d: run it again with --gas auto, "+
		"which simulates it first, or a larger --gas)", e.GasWanted)
}

// ErrSimulationRefused marks a transaction the chain refused when simulating
// its gas (a simulation reports the chain's message, not its error code).
var ErrSimulationRefused = errors.New("the chain refuses the transaction")

// ErrNotCommitted marks a transaction accepted into the mempool that no block
// included within the agent's CommitTimeout.
var ErrNotCommitted = errors.New("not committed")

// errNotSent is the error of a transaction never broadcast because one
// before it was refused: its sequence would not follow.
var errNotSent = errors.New("not sent: an earlier transaction of the same batch was refused")

// Send signs msgs in one transaction (all commit or none), broadcasts it,
// waits until it is in a block, and decodes the response of msgs[i] into
// resps[i]. A transaction the chain refuses is a *TxError.
func (a *Agent) Send(ctx context.Context, msgs []sdk.Msg, resps []gogoproto.Message) error {
	return a.SendAll(ctx, [][]sdk.Msg{msgs}, [][]gogoproto.Message{resps}, nil)[0]
}

// SendOne is Send for a single message.
func (a *Agent) SendOne(ctx context.Context, msg sdk.Msg, resp gogoproto.Message) error {
	return a.Send(ctx, []sdk.Msg{msg}, []gogoproto.Message{resp})
}

// SendAll sends the transactions txs[0], txs[1], … of the agent's account
// without waiting for a block between them (a Sender): each is signed with
// the next sequence number, all are broadcast in order, and their commits are
// read from the node's block events. It returns one error per transaction
// (nil: committed, responses decoded into resps[i]). If the node refuses one
// at CheckTx, the ones after it are not sent. committed, if set, is called
// as each one is committed.
func (a *Agent) SendAll(ctx context.Context, txs [][]sdk.Msg, resps [][]gogoproto.Message, committed func(i int)) []error {
	fail := func(err error) []error {
		errs := make([]error, len(txs))
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i := range txs {
		if len(txs[i]) == 0 || len(txs[i]) != len(resps[i]) {
			return fail(fmt.Errorf("internal: %d messages, %d responses", len(txs[i]), len(resps[i])))
		}
	}
	s, err := a.NewSender(ctx)
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	gas, err := s.estimateShapes(txs)
	if err != nil {
		return fail(err)
	}
	for i := range txs {
		s.Send(ctx, txs[i], resps[i], gas[i])
	}
	return s.Wait(ctx, committed)
}

// Sender sends transactions of the agent's account one after the other
// without waiting for blocks: it tracks the account's sequence itself, and
// learns of commits from the node's block events. Send as many as needed,
// then Wait once.
type Sender struct {
	a       *Agent
	txf     tx.Factory
	next    uint64 // sequence of the next transaction
	w       *blockWatch
	pending map[string]int // hash → index
	resps   [][]gogoproto.Message
	errs    []error
	refused bool
	holds   bool // the agent's sendTurn
}

// NewSender reads the account's number and sequence and subscribes to the
// node's blocks (before the first broadcast, so no commit is missed). Until
// it waits or closes, it is the agent's only Sender: transactions sent
// concurrently (two requests of the FHIR server, say) take their sequences
// one Sender after the other, and then await their commits together. The
// sequence starts after the agent's last broadcast transaction when the
// chain has not committed it yet.
func (a *Agent) NewSender(ctx context.Context) (*Sender, error) {
	if a.sendTurn != nil {
		select {
		case a.sendTurn <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	w := a.watchBlocks(ctx)
	if !a.sequenceKnown() {
		if err := a.awaitOwnMempool(ctx, w); err != nil {
			w.close()
			a.releaseTurn()
			return nil, err
		}
	}
	txf, err := a.txf.Prepare(a.clientCtx)
	if err != nil {
		w.close()
		a.releaseTurn()
		return nil, err
	}
	next := a.nextSequence(txf.Sequence())
	return &Sender{a: a, txf: txf, next: next, w: w, pending: map[string]int{}, holds: true}, nil
}

// settle waits, when the agent knows of no transaction it sent, until the
// node's mempool holds none of this account's (awaitOwnMempool): a filing
// looks up which of its hashes are on chain, and must not miss those a killed
// run of the same key left pending.
func (a *Agent) settle(ctx context.Context) error {
	if a.sequenceKnown() {
		return nil
	}
	w := a.watchBlocks(ctx)
	defer w.close()
	return a.awaitOwnMempool(ctx, w)
}

// mempoolClient is the part of the node's RPC client that lists unconfirmed
// transactions (the HTTP client has it; the SDK's CometRPC does not name it).
type mempoolClient interface {
	UnconfirmedTxs(ctx context.Context, limit *int) (*ctypes.ResultUnconfirmedTxs, error)
}

// awaitOwnMempool waits until the node's mempool holds no transaction paid
// by this account, when the agent knows of none it sent: a process of the
// same key killed after broadcasting (an import interrupted and run again at
// once, say) leaves transactions the chain's account sequence does not count
// until they commit, and one signed with that sequence would be refused.
// They commit, or leave the mempool, within a few blocks; the wait is bounded
// by CommitTimeout. A node that cannot list its mempool is not waited for.
func (a *Agent) awaitOwnMempool(ctx context.Context, w *blockWatch) error {
	mc, ok := a.clientCtx.Client.(mempoolClient)
	if !ok || a.clientCtx.TxConfig == nil {
		return nil
	}
	me, err := sdk.AccAddressFromBech32(a.addr)
	if err != nil {
		return err
	}
	decode := a.clientCtx.TxConfig.TxDecoder()
	deadline := time.Now().Add(a.CommitTimeout)
	limit := 100 // the most CometBFT lists at once
	for {
		res, err := mc.UnconfirmedTxs(ctx, &limit)
		if err != nil {
			return nil
		}
		mine := false
		for _, raw := range res.Txs {
			if t, err := decode(raw); err == nil {
				if ft, ok := t.(sdk.FeeTx); ok && sdk.AccAddress(ft.FeePayer()).Equals(me) {
					mine = true
					break
				}
			}
		}
		if !mine {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("transactions of %s are still in the node's mempool after %s: %w", a.addr, a.CommitTimeout, ErrNotCommitted)
		}
		select { // the next block, or a while if there is no subscription
		case <-w.events:
		case <-time.After(stallCheck):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release lets the next Sender start.
func (s *Sender) release() {
	if s.holds {
		s.holds = false
		s.a.releaseTurn()
	}
}

func (a *Agent) releaseTurn() {
	if a.sendTurn != nil {
		<-a.sendTurn
	}
}

// Close ends the block subscription (and releases the agent if Wait did not).
func (s *Sender) Close() {
	s.release()
	s.w.close()
}

// Simulates reports whether gas is simulated (--gas auto, the agent's default).
func (s *Sender) Simulates() bool { return s.txf.SimulateAndExecute() }

// Estimate simulates msgs against the node's check state (the committed
// state and the transactions in its mempool, so the account's sequence is the
// Sender's next) and returns the gas to give them, times the gas adjustment.
func (s *Sender) Estimate(msgs []sdk.Msg) (uint64, error) {
	_, gas, err := tx.CalculateGas(s.a.clientCtx, s.txf.WithSequence(s.next), msgs...)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSimulationRefused, err)
	}
	return gas, nil
}

// Send signs msgs with the next sequence and gas (0: the factory's gas
// limit) and broadcasts them; it returns the transaction's index for Wait's
// results. After a refusal at CheckTx nothing more is sent: the sequences
// would not follow.
func (s *Sender) Send(ctx context.Context, msgs []sdk.Msg, resps []gogoproto.Message, gas uint64) int {
	i := len(s.errs)
	s.errs, s.resps = append(s.errs, nil), append(s.resps, resps)
	if s.refused {
		s.errs[i] = errNotSent
		return i
	}
	bz, err := s.sign(ctx, msgs, gas)
	if err == nil {
		var res *sdk.TxResponse
		if res, err = s.a.clientCtx.BroadcastTxSync(bz); err == nil && res.Code != 0 {
			err = &TxError{Hash: res.TxHash, Codespace: res.Codespace, Code: res.Code, Log: res.RawLog}
		}
		if err == nil {
			s.pending[strings.ToUpper(res.TxHash)] = i
			s.next++
			s.a.noteSequence(s.next)
			return i
		}
	}
	s.errs[i], s.refused = err, true
	// a refused transaction does not use its sequence: the next one takes it,
	// unless the sequence itself was wrong (then ask the chain again)
	var txErr *TxError
	if errors.As(err, &txErr) && txErr.Codespace == sdkerrors.ErrWrongSequence.Codespace() && txErr.Code == sdkerrors.ErrWrongSequence.ABCICode() {
		s.a.forgetSequence()
	} else {
		s.a.noteSequence(s.next)
	}
	return i
}

func (s *Sender) sign(ctx context.Context, msgs []sdk.Msg, gas uint64) ([]byte, error) {
	f := s.txf.WithSequence(s.next)
	if gas > 0 {
		f = f.WithGas(gas)
	}
	builder, err := f.BuildUnsignedTx(msgs...)
	if err != nil {
		return nil, err
	}
	if err := tx.Sign(ctx, f, s.a.clientCtx.FromName, builder, true); err != nil {
		return nil, err
	}
	return s.a.clientCtx.TxConfig.TxEncoder()(builder.GetTx())
}

// Wait waits until every transaction sent is committed (or the agent's
// CommitTimeout passes) and returns one error per transaction, in the order
// sent; committed, if set, is called as each one commits.
func (s *Sender) Wait(ctx context.Context, committed func(i int)) []error {
	s.release()
	defer func() {
		for _, err := range s.errs {
			if errors.Is(err, ErrNotCommitted) { // a sequence the chain may never see
				s.a.forgetSequence()
			}
		}
	}()
	s.a.awaitCommits(ctx, s.w, s.pending, false, func(i int, r *abci.ExecTxResult, height int64, hash string) {
		if s.errs[i] = decodeResult(r, height, hash, s.resps[i]); s.errs[i] == nil && committed != nil {
			committed(i)
		}
	}, s.errs)
	return s.errs
}

// estimateShapes returns the gas of each transaction (0 for all unless gas is
// simulated). Transactions of the same shape (the same message types, in the
// same order) cost about the same, so for each shape only two are simulated,
// the first and the largest, and the larger estimate is used for all of
// them: simulating each would run the whole batch twice on the node.
func (s *Sender) estimateShapes(txs [][]sdk.Msg) ([]uint64, error) {
	gas := make([]uint64, len(txs))
	if !s.Simulates() {
		return gas, nil
	}
	shapes := map[string][]int{} // shape → indexes of txs
	var order []string
	for i, msgs := range txs {
		var key strings.Builder
		for _, m := range msgs {
			key.WriteString(sdk.MsgTypeURL(m) + ";")
		}
		if shapes[key.String()] == nil {
			order = append(order, key.String())
		}
		shapes[key.String()] = append(shapes[key.String()], i)
	}
	var samples []int
	for _, k := range order {
		idx := shapes[k]
		largest := idx[0]
		for _, i := range idx {
			if msgsSize(txs[i]) > msgsSize(txs[largest]) {
				largest = i
			}
		}
		samples = append(samples, idx[0])
		if largest != idx[0] {
			samples = append(samples, largest)
		}
	}
	estimates := make([]uint64, len(txs))
	errs := make([]error, len(txs))
	var wg sync.WaitGroup
	for _, i := range samples {
		wg.Go(func() { estimates[i], errs[i] = s.Estimate(txs[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, k := range order {
		var most uint64
		for _, i := range shapes[k] {
			most = max(most, estimates[i])
		}
		for _, i := range shapes[k] {
			gas[i] = most
		}
	}
	return gas, nil
}

// msgsSize is the encoded size of msgs.
func msgsSize(msgs []sdk.Msg) int {
	n := 0
	for _, m := range msgs {
		n += gogoproto.Size(m)
	}
	return n
}

// decodeResult turns a committed transaction's result into its error or its
// message responses.
func decodeResult(r *abci.ExecTxResult, height int64, hash string, resps []gogoproto.Message) error {
	if r.Code != 0 {
		return &TxError{Hash: hash, Height: height, Codespace: r.Codespace, Code: r.Code, Log: r.Log, GasWanted: r.GasWanted}
	}
	var msgData sdk.TxMsgData
	if err := msgData.Unmarshal(r.Data); err != nil || len(msgData.MsgResponses) != len(resps) {
		return fmt.Errorf("transaction %s: %d message responses for %d messages", hash, len(msgData.MsgResponses), len(resps))
	}
	for i, m := range msgData.MsgResponses {
		if resps[i] == nil || reflect.ValueOf(resps[i]).IsNil() { // the caller wants no response
			continue
		}
		if err := gogoproto.Unmarshal(m.Value, resps[i]); err != nil {
			return fmt.Errorf("transaction %s: response %d: %w", hash, i, err)
		}
	}
	return nil
}

// blockWatch is a subscription to the node's NewBlock events: each carries
// the block's transactions and their results, so one event confirms every
// transaction of the block without a query.
type blockWatch struct {
	client *rpchttp.HTTP
	events <-chan ctypes.ResultEvent
}

// watchBlocks subscribes to NewBlock events over the node's websocket. If
// that fails (no node URI, websocket refused), events is nil and the wait
// falls back to asking for each transaction.
func (a *Agent) watchBlocks(ctx context.Context) *blockWatch {
	w := &blockWatch{}
	if a.clientCtx.NodeURI == "" {
		return w
	}
	c, err := rpchttp.New(a.clientCtx.NodeURI, "/websocket")
	if err != nil || c.Start() != nil {
		return w
	}
	events, err := c.Subscribe(ctx, "healthd-agent", cmttypes.EventQueryNewBlock.String(), 64)
	if err != nil {
		_ = c.Stop()
		return w
	}
	w.client, w.events = c, events
	return w
}

func (w *blockWatch) close() {
	if w.client != nil {
		_ = w.client.Stop()
	}
}

// stallCheck is how long the wait goes without a block event before it asks
// the node for the pending transactions directly (the node drops a
// subscriber that falls behind, without closing its channel).
const stallCheck = 3 * time.Second

// awaitCommits waits until every pending transaction (hash → index) is in a
// block, or the agent's CommitTimeout; each found one is passed to found.
// Those never found get ErrNotCommitted in errs.
// With checkFirst, the pending ones are asked for at once (they may have been
// committed before the subscription).
func (a *Agent) awaitCommits(ctx context.Context, w *blockWatch, pending map[string]int, checkFirst bool,
	found func(i int, r *abci.ExecTxResult, height int64, hash string), errs []error,
) {
	if len(pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, a.CommitTimeout)
	defer cancel()
	stall := time.NewTimer(stallCheck)
	defer stall.Stop()
	if w.events == nil {
		stall.Reset(250 * time.Millisecond) // no events: ask for each transaction
	}
	if checkFirst {
		stall.Reset(0)
	}
	for len(pending) > 0 {
		select {
		case ev := <-w.events:
			if b, ok := ev.Data.(cmttypes.EventDataNewBlock); ok && b.Block != nil {
				for j, t := range b.Block.Txs {
					hash := fmt.Sprintf("%X", t.Hash())
					if i, ok := pending[hash]; ok && j < len(b.ResultFinalizeBlock.TxResults) {
						delete(pending, hash)
						found(i, b.ResultFinalizeBlock.TxResults[j], b.Block.Height, hash)
					}
				}
			}
			stall.Reset(stallCheck)
		case <-stall.C:
			for hash, i := range pending {
				if res, err := authtx.QueryTx(a.clientCtx, hash); err == nil {
					delete(pending, hash)
					found(i, &abci.ExecTxResult{
						Code: res.Code, Codespace: res.Codespace, Log: res.RawLog, GasWanted: res.GasWanted,
						Data: hexBytes(res.Data),
					}, res.Height, hash)
				}
			}
			if w.events == nil {
				stall.Reset(250 * time.Millisecond)
			} else {
				stall.Reset(stallCheck)
			}
		case <-ctx.Done():
			for hash, i := range pending {
				errs[i] = fmt.Errorf("transaction %s was %w within %s (it may still be in the mempool; "+
					"check with `healthd query tx %s`): %w", hash, ErrNotCommitted, a.CommitTimeout, hash, ctx.Err())
			}
			return
		}
	}
}

// WaitForTx waits until the transaction is in a block and returns its result;
// an error if it is not committed within timeout or failed on execution (a
// *TxError).
func WaitForTx(ctx context.Context, clientCtx client.Context, hash string, timeout time.Duration) (*sdk.TxResponse, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	a := &Agent{clientCtx: clientCtx, CommitTimeout: timeout}
	w := a.watchBlocks(ctx)
	defer w.close()
	errs := []error{nil}
	var out *sdk.TxResponse
	a.awaitCommits(ctx, w, map[string]int{strings.ToUpper(hash): 0}, true, func(_ int, r *abci.ExecTxResult, height int64, h string) {
		out = &sdk.TxResponse{TxHash: h, Height: height, Code: r.Code, Codespace: r.Codespace, RawLog: r.Log, GasWanted: r.GasWanted}
		if r.Code != 0 {
			errs[0] = &TxError{Hash: h, Height: height, Codespace: r.Codespace, Code: r.Code, Log: r.Log, GasWanted: r.GasWanted}
		}
	}, errs)
	return out, errs[0]
}

// hexBytes decodes the hex of a queried transaction's data (nil if it is not
// hex: the result then fails to decode, with a message).
func hexBytes(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// ChainUnreachable tells a failure to reach the node: gRPC's Unavailable, or
// a network error of the CometBFT RPC client (refused, timed out, no such
// host).
func ChainUnreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	return status.Code(err) == codes.Unavailable || errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &urlErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrDeadlineExceeded)
}
