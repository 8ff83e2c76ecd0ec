// Package agent is the client side of one healthd account: it signs and sends
// transactions, encrypts and uploads records, takes access receipts, downloads
// and decrypts, and wraps class keys for consents. The `healthd records`,
// `healthd fhir` commands and the portal (`healthd portal`) all go through it,
// so a key never leaves the process that holds the keyring and every client
// applies the same checks in the same order.
package agent

import (
	"context"
	"crypto/hpke"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	gogoproto "github.com/cosmos/gogoproto/proto"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/tx"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
	authtx "github.com/cosmos/cosmos-sdk/x/auth/tx"

	"github.com/healthd-chain/healthd/chaincfg"
	"github.com/healthd-chain/healthd/crypto"
)

// Agent acts for one account of a keyring.
type Agent struct {
	clientCtx client.Context
	txf       tx.Factory
	addr      string
	priv      hpke.PrivateKey

	// Progress, if set, wraps the reader of a long step (encrypting,
	// uploading, decrypting) of total bytes to report how far it got.
	Progress func(what string, r io.Reader, total int64) io.Reader
	// CommitTimeout bounds how long Send waits for a block (default 60 s).
	CommitTimeout time.Duration

	vaultHostsMu sync.Mutex
	vaultHosts   map[string]bool // host names of the registered vault endpoints
}

// New returns the agent of clientCtx's --from account. txf signs its
// transactions; with SimulateAndExecute set, the gas of each is simulated
// first (times the factory's gas adjustment). A query-only agent may pass a
// zero factory.
func New(clientCtx client.Context, txf tx.Factory) (*Agent, error) {
	if clientCtx.FromName == "" {
		return nil, errors.New("--from is required")
	}
	me, err := addresscodec.NewBech32Codec(chaincfg.Bech32Prefix).BytesToString(clientCtx.GetFromAddress())
	if err != nil {
		return nil, err
	}
	priv, err := crypto.EncryptionKeyFromKeyring(clientCtx.Keyring, clientCtx.FromName, me)
	if err != nil {
		return nil, err
	}
	return &Agent{clientCtx: clientCtx, txf: txf, addr: me, priv: priv, CommitTimeout: 60 * time.Second}, nil
}

// Address is the account's bech32 address.
func (a *Agent) Address() string { return a.addr }

// KeyName is the account's key name in the keyring.
func (a *Agent) KeyName() string { return a.clientCtx.FromName }

// EncryptionKey is the account's public HPKE key (the one to publish on chain).
func (a *Agent) EncryptionKey() []byte { return a.priv.PublicKey().Bytes() }

// ClientContext is the context the agent queries and broadcasts through.
func (a *Agent) ClientContext() client.Context { return a.clientCtx }

func (a *Agent) progress(what string, r io.Reader, total int64) io.Reader {
	if a.Progress == nil {
		return r
	}
	return a.Progress(what, r, total)
}

// Send signs msgs in one transaction (all commit or none), broadcasts it,
// waits until it is in a block, and decodes the response of msgs[i] into
// resps[i]. A transaction the chain rejects, at CheckTx or in the block, is an
// error carrying the chain's log.
func (a *Agent) Send(ctx context.Context, msgs []sdk.Msg, resps []gogoproto.Message) error {
	if len(msgs) == 0 || len(msgs) != len(resps) {
		return fmt.Errorf("internal: %d messages, %d responses", len(msgs), len(resps))
	}
	txf, err := a.txf.Prepare(a.clientCtx)
	if err != nil {
		return err
	}
	if txf.SimulateAndExecute() {
		_, gas, err := tx.CalculateGas(a.clientCtx, txf, msgs...)
		if err != nil {
			return fmt.Errorf("the chain refuses the transaction: %w", err)
		}
		txf = txf.WithGas(gas)
	}
	builder, err := txf.BuildUnsignedTx(msgs...)
	if err != nil {
		return err
	}
	if err := tx.Sign(ctx, txf, a.clientCtx.FromName, builder, true); err != nil {
		return err
	}
	bz, err := a.clientCtx.TxConfig.TxEncoder()(builder.GetTx())
	if err != nil {
		return err
	}
	res, err := a.clientCtx.BroadcastTxSync(bz)
	if err != nil {
		return err
	}
	if res.Code != 0 {
		return fmt.Errorf("transaction rejected (code %d, codespace %q): %s", res.Code, res.Codespace, res.RawLog)
	}
	committed, err := WaitForTx(ctx, a.clientCtx, res.TxHash, a.CommitTimeout)
	if err != nil {
		return err
	}
	data, err := hex.DecodeString(committed.Data)
	if err != nil {
		return fmt.Errorf("transaction %s: undecodable result: %w", res.TxHash, err)
	}
	var msgData sdk.TxMsgData
	if err := msgData.Unmarshal(data); err != nil || len(msgData.MsgResponses) != len(msgs) {
		return fmt.Errorf("transaction %s: %d message responses for %d messages", res.TxHash, len(msgData.MsgResponses), len(msgs))
	}
	for i, r := range msgData.MsgResponses {
		if err := gogoproto.Unmarshal(r.Value, resps[i]); err != nil {
			return fmt.Errorf("transaction %s: response %d: %w", res.TxHash, i, err)
		}
	}
	return nil
}

// SendOne is Send for a single message.
func (a *Agent) SendOne(ctx context.Context, msg sdk.Msg, resp gogoproto.Message) error {
	return a.Send(ctx, []sdk.Msg{msg}, []gogoproto.Message{resp})
}

// WaitForTx polls the node until the transaction is in a block and returns
// its result; an error if it is not committed within timeout or failed on
// execution.
func WaitForTx(ctx context.Context, clientCtx client.Context, hash string, timeout time.Duration) (*sdk.TxResponse, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		committed, err := authtx.QueryTx(clientCtx, hash)
		if err == nil {
			if committed.Code != 0 {
				return committed, fmt.Errorf("transaction %s failed in block %d (code %d, codespace %q): %s%s",
					hash, committed.Height, committed.Code, committed.Codespace, committed.RawLog, outOfGasHint(committed))
			}
			return committed, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %s was not committed within %s (it may still be in the mempool; "+
				"check with `healthd query tx %s`): %w", hash, timeout, hash, err)
		case <-tick.C:
		}
	}
}

// outOfGasHint tells how to get past an out-of-gas failure: the SDK's default
// gas limit (200,000) is too small for, say, a consent carrying several key
// grants. (Simulating by default would hide the chain's error codes: a refused
// simulation reports no codespace.)
func outOfGasHint(res *sdk.TxResponse) string {
	if res.Codespace != sdkerrors.RootCodespace || res.Code != sdkerrors.ErrOutOfGas.ABCICode() {
		return ""
	}
	return fmt.Sprintf(" (the transaction needs more gas than its limit of %d: run it again with --gas auto, "+
		"which simulates it first, or a larger --gas)", res.GasWanted)
}
