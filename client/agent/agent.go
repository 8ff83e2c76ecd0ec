// Package agent is the client side of one healthd account: it signs and sends
// transactions, encrypts and uploads records, takes access receipts, downloads
// and decrypts, and wraps class keys for consents. The `healthd records`,
// `healthd fhir` commands and the portal (`healthd portal`) all go through it,
// so a key never leaves the process that holds the keyring and every client
// applies the same checks in the same order.
package agent

import (
	"crypto/hpke"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/tx"
	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"

	"github.com/healthd-chain/healthd/chaincfg"
	"github.com/healthd-chain/healthd/crypto"
)

// DefaultPurpose is the purpose of use (HL7 v3 ActReason) a read or write
// states when its caller names none: treatment.
const DefaultPurpose = "TREAT"

// Agent acts for one account of a keyring.
type Agent struct {
	clientCtx client.Context
	txf       tx.Factory
	addr      string
	priv      hpke.PrivateKey
	// filing is the account's filing secret (crypto.FilingSecret): the keys
	// of the resources it files derive from it, so filing one twice makes the
	// same content hash and the chain commits it once.
	filing []byte

	// Progress, if set, wraps the reader of a long step (encrypting,
	// uploading, decrypting) of total bytes to report how far it got.
	Progress func(what string, r io.Reader, total int64) io.Reader
	// CommitTimeout bounds how long Send waits for a block (default 60 s).
	CommitTimeout time.Duration

	vaultHostsMu sync.Mutex
	vaultHosts   map[string]bool // host names of the registered vault endpoints

	// sendTurn is held by a Sender from NewSender until it waits (or closes):
	// one Sender at a time allocates sequence numbers and broadcasts, while
	// the commits of earlier ones are still awaited. seqNext is the sequence
	// after the last transaction broadcast, which the chain's committed
	// account does not know until that transaction is in a block.
	sendTurn chan struct{} // a semaphore of one, so waiting for it can be cancelled
	seqMu    sync.Mutex
	seqNext  uint64
	seqKnown bool
}

// nextSequence is the sequence to sign the next transaction with: the
// chain's, or the one after the last transaction broadcast if higher.
func (a *Agent) nextSequence(chain uint64) uint64 {
	a.seqMu.Lock()
	defer a.seqMu.Unlock()
	if a.seqKnown && a.seqNext > chain {
		return a.seqNext
	}
	return chain
}

// sequenceKnown reports whether the agent tracks the sequence after its own
// last broadcast transaction.
func (a *Agent) sequenceKnown() bool {
	a.seqMu.Lock()
	defer a.seqMu.Unlock()
	return a.seqKnown
}

// noteSequence records next as the sequence after a broadcast transaction.
func (a *Agent) noteSequence(next uint64) {
	a.seqMu.Lock()
	defer a.seqMu.Unlock()
	a.seqNext, a.seqKnown = next, true
}

// forgetSequence drops the tracked sequence (a transaction was refused, or
// never committed): the next Sender asks the chain.
func (a *Agent) forgetSequence() {
	a.seqMu.Lock()
	defer a.seqMu.Unlock()
	a.seqKnown = false
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
	filing, err := crypto.FilingSecret(priv)
	if err != nil {
		return nil, err
	}
	return &Agent{
		clientCtx: clientCtx, txf: txf, addr: me, priv: priv, filing: filing,
		CommitTimeout: 60 * time.Second, sendTurn: make(chan struct{}, 1),
	}, nil
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
