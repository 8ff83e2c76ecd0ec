// Package simutil holds what the healthd modules' simulations share: delivering
// a message as a signed transaction, and the encryption key of a simulation
// account.
package simutil

import (
	"crypto/sha512"
	"fmt"
	"math/rand"

	"github.com/cosmos/gogoproto/proto"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/kv"
	simtypes "github.com/cosmos/cosmos-sdk/types/simulation"
	"github.com/cosmos/cosmos-sdk/x/simulation"

	"github.com/healthd-chain/healthd/crypto"
)

// Keepers are the SDK keepers a simulated transaction needs (account numbers
// and sequences; balances for fees).
type Keepers struct {
	Account simulation.AccountKeeper
	Bank    simulation.BankKeeper
}

// Deliver signs msg with from's key and delivers it in the current block, with
// no fee (healthd's minimum gas price is zero). An error means the chain refused
// a message the simulation built as valid: a bug on one side or the other.
func Deliver(r *rand.Rand, app *baseapp.BaseApp, ctx sdk.Context, txGen client.TxConfig, k Keepers,
	moduleName string, msg sdk.Msg, from simtypes.Account,
) (simtypes.OperationMsg, []simtypes.FutureOperation, error) {
	return simulation.GenAndDeliverTx(simulation.OperationInput{
		R: r, App: app, TxGen: txGen, Msg: msg, Context: ctx, SimAccount: from,
		AccountKeeper: k.Account, Bankkeeper: k.Bank, ModuleName: moduleName,
	}, sdk.NewCoins())
}

// EncryptionKey is a simulation account's HPKE public key, derived from its
// private key the way a real account's is derived from its signature.
func EncryptionKey(acc simtypes.Account) []byte {
	seed := sha512.Sum512(acc.PrivKey.Bytes())
	priv, err := crypto.DeriveEncryptionKey(seed[:])
	if err != nil {
		panic(err) // 64 bytes always derive a key
	}
	return priv.PublicKey().Bytes()
}

// Find returns the simulation account with address addr.
func Find(accs []simtypes.Account, addr string) (simtypes.Account, bool) {
	for _, a := range accs {
		if a.Address.String() == addr {
			return a, true
		}
	}
	return simtypes.Account{}, false
}

// Decoder returns a store decoder for a module whose collections use one-byte
// prefixes: values under a prefix in values are unmarshalled and printed,
// others (sequences, index entries) are printed as hex. The simulation uses it
// to show how two stores differ.
func Decoder(cdc codec.BinaryCodec, values map[byte]func() proto.Message) func(kvA, kvB kv.Pair) string {
	show := func(p kv.Pair) string {
		if len(p.Key) > 0 {
			if newMsg, ok := values[p.Key[0]]; ok {
				m := newMsg()
				if err := cdc.Unmarshal(p.Value, m); err == nil {
					return fmt.Sprintf("%v", m)
				}
			}
		}
		return fmt.Sprintf("%X", p.Value)
	}
	return func(kvA, kvB kv.Pair) string {
		return fmt.Sprintf("key %X\nA: %s\nB: %s", kvA.Key, show(kvA), show(kvB))
	}
}

// Weighted is a weighted operation.
func Weighted(weight int, op simtypes.Operation) simtypes.WeightedOperation {
	return weightedOp{weight: weight, op: op}
}

type weightedOp struct {
	weight int
	op     simtypes.Operation
}

func (w weightedOp) Weight() int            { return w.weight }
func (w weightedOp) Op() simtypes.Operation { return w.op }
