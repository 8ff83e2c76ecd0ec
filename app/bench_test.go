package app_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	dbm "github.com/cosmos/cosmos-db"

	"cosmossdk.io/log"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/crypto/keys/ed25519"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	"github.com/cosmos/cosmos-sdk/testutil/mock"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/healthd-chain/healthd/app"
	tk "github.com/healthd-chain/healthd/testutil/keeper"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	providerstypes "github.com/healthd-chain/healthd/x/providers/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// benchChain is an app at height 1 whose genesis has a funded sender, a
// registered patient, an active provider and the patient's write consent for it.
type benchChain struct {
	app                *app.HealthApp
	sender, provider   *secp256k1.PrivKey
	patient            *secp256k1.PrivKey
	senderAddr, patAdr string
	provAddr           string
	height             int64
	seq                map[string]uint64
	accNum             map[string]uint64
}

func newBenchChain(b testing.TB, opts ...func(simtestutil.AppOptionsMap)) *benchChain {
	b.Helper()
	db, err := dbm.NewGoLevelDB("application", b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	appOpts := simtestutil.AppOptionsMap{flags.FlagHome: b.TempDir()}
	for _, o := range opts {
		o(appOpts)
	}
	a, err := app.NewHealthApp(log.NewNopLogger(), db, nil, true, appOpts, baseapp.SetChainID(testChainID))
	if err != nil {
		b.Fatal(err)
	}
	c := &benchChain{
		app: a, sender: secp256k1.GenPrivKeyFromSecret([]byte("bench sender")),
		provider: secp256k1.GenPrivKeyFromSecret([]byte("bench provider")), seq: map[string]uint64{}, accNum: map[string]uint64{},
	}
	patient := secp256k1.GenPrivKeyFromSecret([]byte("bench patient"))
	c.patient = patient
	ac := a.AccountKeeper.AddressCodec()
	str := func(k *secp256k1.PrivKey) string {
		s, err := ac.BytesToString(k.PubKey().Address())
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	c.senderAddr, c.provAddr, c.patAdr = str(c.sender), str(c.provider), str(patient)

	// a fixed validator key, so two bench chains start from the same state
	pv := mock.PV{PrivKey: ed25519.GenPrivKeyFromSecret([]byte("bench validator"))}
	pub, _ := pv.GetPubKey()
	valSet := cmttypes.NewValidatorSet([]*cmttypes.Validator{cmttypes.NewValidator(pub, 1)})
	var accs []authtypes.GenesisAccount
	var balances []banktypes.Balance
	for _, k := range []*secp256k1.PrivKey{c.sender, c.provider, patient} {
		accs = append(accs, authtypes.NewBaseAccount(sdk.AccAddress(k.PubKey().Address()), k.PubKey(), 0, 0))
		balances = append(balances, banktypes.Balance{Address: str(k), Coins: sdk.NewCoins(sdk.NewInt64Coin(app.BondDenom, 1_000_000_000_000))})
	}
	gen, err := simtestutil.GenesisStateWithValSet(a.AppCodec(), a.DefaultGenesis(), valSet, accs, balances...)
	if err != nil {
		b.Fatal(err)
	}
	genesisTime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prov := tk.ValidProvider("bench", providerstypes.PROVIDER_STATUS_ACTIVE)
	prov.Address = c.provAddr
	prov.CredentialExpiresAt = genesisTime.Add(365 * 24 * time.Hour)
	gen[providerstypes.ModuleName] = a.AppCodec().MustMarshalJSON(&providerstypes.GenesisState{Params: providerstypes.DefaultParams(), Providers: []providerstypes.Provider{prov}})
	gen[consenttypes.ModuleName] = a.AppCodec().MustMarshalJSON(&consenttypes.GenesisState{
		Params:   consenttypes.DefaultParams(),
		Patients: []consenttypes.PatientProfile{{Address: c.patAdr, EncryptionKey: tk.EncryptionKey("bench"), Delegates: []consenttypes.Delegate{}, RegisteredAt: genesisTime}},
		Consents: []consenttypes.Consent{{
			Id: 1, Patient: c.patAdr, Grantee: c.provAddr, Permissions: []string{"read", "write"}, DataClasses: []string{"lab-result"},
			Purposes: []string{"TREAT"}, Period: consenttypes.Period{Start: genesisTime, End: genesisTime.Add(365 * 24 * time.Hour)},
			Status: consenttypes.CONSENT_STATUS_ACTIVE, CreatedAt: genesisTime, GrantedBy: c.patAdr,
		}},
		NextConsentId: 2,
	})
	state, err := json.Marshal(gen)
	if err != nil {
		b.Fatal(err)
	}
	params := *simtestutil.DefaultConsensusParams
	params.Block = &cmtproto.BlockParams{MaxBytes: 100 << 20, MaxGas: -1}
	if _, err := a.InitChain(&abci.RequestInitChain{ChainId: testChainID, Time: genesisTime, ConsensusParams: &params, AppStateBytes: state, InitialHeight: 1}); err != nil {
		b.Fatal(err)
	}
	c.finalize(b, nil)
	ctx := a.NewContext(true)
	for _, addr := range []string{c.senderAddr, c.provAddr, c.patAdr} {
		bz, _ := ac.StringToBytes(addr)
		c.accNum[addr] = a.AccountKeeper.GetAccount(ctx, bz).GetAccountNumber()
	}
	return c
}

// finalize executes one block of txs, checks every tx succeeded, and commits
// (IAVL writes its new nodes to goleveldb: the part of a block's cost that
// grows with the keys a transaction writes). Callers time it with the
// benchmark timer.
func (c *benchChain) finalize(b testing.TB, txs [][]byte) *abci.ResponseFinalizeBlock {
	b.Helper()
	c.height++
	res, err := c.app.FinalizeBlock(&abci.RequestFinalizeBlock{
		Height: c.height, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(c.height) * time.Second), Txs: txs,
	})
	if err != nil {
		b.Fatal(err)
	}
	for i, r := range res.TxResults {
		if r.Code != 0 {
			b.Fatalf("tx %d failed: code %d %s", i, r.Code, r.Log)
		}
	}
	if _, err := c.app.Commit(); err != nil {
		b.Fatal(err)
	}
	return res
}

// sign returns n signed txs of msgs(i) from key, with consecutive sequences.
func (c *benchChain) sign(b testing.TB, n int, key *secp256k1.PrivKey, addr string, msgs func(i int) []sdk.Msg) [][]byte {
	b.Helper()
	r := rand.New(rand.NewSource(1))
	out := make([][]byte, n)
	for i := range n {
		tx, err := simtestutil.GenSignedMockTx(r, c.app.TxConfig(), msgs(i), sdk.NewCoins(), 10_000_000, testChainID,
			[]uint64{c.accNum[addr]}, []uint64{c.seq[addr]}, key)
		if err != nil {
			b.Fatal(err)
		}
		c.seq[addr]++
		if out[i], err = c.app.TxConfig().TxEncoder()(tx); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

func (c *benchChain) entries(i, n int) []recordstypes.RecordEntry {
	es := make([]recordstypes.RecordEntry, n)
	for j := range es {
		var seed [16]byte
		binary.BigEndian.PutUint64(seed[:], uint64(i))
		binary.BigEndian.PutUint64(seed[8:], uint64(j))
		h := sha256.Sum256(seed[:])
		es[j] = recordstypes.RecordEntry{
			DataClass: "lab-result", FhirResourceType: "Observation", ContentHash: h[:], Size_: 4096,
			StorageUri: "vault://bench/0123456789abcdef", KeyEnvelope: make([]byte, 120), KeyEpoch: 1,
		}
	}
	return es
}

// BenchmarkTxExecution executes signed transactions through FinalizeBlock (ante
// handler — signature, fees, sequence — and message) in blocks of up to 500,
// and commits each block to goleveldb, for a bank send and for CreateRecords
// with 1 and 100 entries, in one process. Signing happens before the timer
// starts. There is no network, CheckTx or consensus: this is the state
// machine's own cost per transaction.
//
//	go test ./app -run '^$' -bench BenchmarkTxExecution -benchtime 2000x
func BenchmarkTxExecution(b *testing.B) {
	const perBlock = 500
	run := func(b *testing.B, key func(c *benchChain) (*secp256k1.PrivKey, string), msgs func(c *benchChain, i int) []sdk.Msg, perTx int) {
		c := newBenchChain(b)
		k, addr := key(c)
		txs := c.sign(b, b.N, k, addr, func(i int) []sdk.Msg { return msgs(c, i) })
		b.ResetTimer()
		for start := 0; start < len(txs); start += perBlock {
			c.finalize(b, txs[start:min(start+perBlock, len(txs))])
		}
		b.StopTimer()
		if perTx > 1 {
			b.ReportMetric(float64(b.N*perTx)/b.Elapsed().Seconds(), "records/s")
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
	}
	sender := func(c *benchChain) (*secp256k1.PrivKey, string) { return c.sender, c.senderAddr }
	provider := func(c *benchChain) (*secp256k1.PrivKey, string) { return c.provider, c.provAddr }

	b.Run("bank-send", func(b *testing.B) {
		run(b, sender, func(c *benchChain, _ int) []sdk.Msg {
			return []sdk.Msg{&banktypes.MsgSend{FromAddress: c.senderAddr, ToAddress: c.patAdr, Amount: sdk.NewCoins(sdk.NewInt64Coin(app.BondDenom, 1))}}
		}, 1)
	})
	b.Run("create-record", func(b *testing.B) {
		run(b, provider, func(c *benchChain, i int) []sdk.Msg {
			return []sdk.Msg{&recordstypes.MsgCreateRecords{Author: c.provAddr, Patient: c.patAdr, Purpose: "TREAT", Entries: c.entries(i, 1)}}
		}, 1)
	})
	b.Run("grant-consent", func(b *testing.B) {
		// the patient consents to the provider again each time (a grantee
		// must be registered), with no key grants
		patient := func(c *benchChain) (*secp256k1.PrivKey, string) { return c.patient, c.patAdr }
		run(b, patient, func(c *benchChain, _ int) []sdk.Msg {
			return []sdk.Msg{&consenttypes.MsgGrantConsent{
				Signer: c.patAdr, Grantee: c.provAddr, Permissions: []string{"read"}, DataClasses: []string{"lab-result"},
				Purposes: []string{"TREAT"}, Duration: 30 * 24 * time.Hour,
			}}
		}, 1)
	})
	b.Run("access-record", func(b *testing.B) {
		// the provider reads record 1 (filed by the patient) under its
		// consent: the consent check and a receipt per transaction
		run(b, func(c *benchChain) (*secp256k1.PrivKey, string) {
			c.finalize(b, c.sign(b, 1, c.patient, c.patAdr, func(int) []sdk.Msg {
				return []sdk.Msg{&recordstypes.MsgCreateRecords{Author: c.patAdr, Purpose: "TREAT", Entries: c.entries(-1, 1)}}
			}))
			return c.provider, c.provAddr
		}, func(c *benchChain, _ int) []sdk.Msg {
			return []sdk.Msg{&recordstypes.MsgAccessRecord{Accessor: c.provAddr, RecordId: 1, Purpose: "TREAT"}}
		}, 1)
	})
	b.Run("create-records-100", func(b *testing.B) {
		run(b, provider, func(c *benchChain, i int) []sdk.Msg {
			return []sdk.Msg{&recordstypes.MsgCreateRecords{Author: c.provAddr, Patient: c.patAdr, Purpose: "TREAT", Entries: c.entries(i, 100)}}
		}, 100)
	})
}

// BenchmarkCheckThenExecute is a node's own work for each transaction it
// gets from a client and then sees in a block: CheckTx (ante handler,
// signature verified), then FinalizeBlock and Commit, in blocks of 500, with
// the verified-signature cache (app.toml [healthd] verified-tx-cache-size)
// on and off in the same run. The ratio of the two tx/s is what the cache
// saves; the app hash after the last block is the same either way (checked).
//
//	go test ./app -run '^$' -bench BenchmarkCheckThenExecute -benchtime 3000x -count 3
func BenchmarkCheckThenExecute(b *testing.B) {
	const perBlock = 500
	for _, tc := range []struct {
		name string
		size int
	}{{"cache=on", app.DefaultVerifiedTxCacheSize}, {"cache=off", 0}} {
		for _, kind := range []string{"bank-send", "create-record"} {
			b.Run(kind+"/"+tc.name, func(b *testing.B) {
				c := newBenchChain(b, func(o simtestutil.AppOptionsMap) { o["healthd.verified-tx-cache-size"] = tc.size })
				var txs [][]byte
				if kind == "bank-send" {
					txs = c.sign(b, b.N, c.sender, c.senderAddr, func(int) []sdk.Msg {
						return []sdk.Msg{&banktypes.MsgSend{FromAddress: c.senderAddr, ToAddress: c.patAdr, Amount: sdk.NewCoins(sdk.NewInt64Coin(app.BondDenom, 1))}}
					})
				} else {
					txs = c.sign(b, b.N, c.provider, c.provAddr, func(i int) []sdk.Msg {
						return []sdk.Msg{&recordstypes.MsgCreateRecords{Author: c.provAddr, Patient: c.patAdr, Purpose: "TREAT", Entries: c.entries(i, 1)}}
					})
				}
				b.ResetTimer()
				for start := 0; start < len(txs); start += perBlock {
					block := txs[start:min(start+perBlock, len(txs))]
					for _, tx := range block {
						res, err := c.app.CheckTx(&abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
						if err != nil || res.Code != 0 {
							b.Fatalf("CheckTx: %v %d %s", err, res.GetCode(), res.GetLog())
						}
					}
					c.finalize(b, block)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
			})
		}
	}
}

// TestVerifiedTxCacheChangesNothingButWork: the same transactions, checked
// and then executed by a node with the verified-signature cache and by one
// without, use the same gas each and lead to the same app hash; a transaction
// with a bad signature fails in the block either way.
func TestVerifiedTxCacheChangesNothingButWork(t *testing.T) {
	type result struct {
		gas  []int64
		code []uint32
		hash []byte
	}
	run := func(size int) result {
		c := newBenchChain(t, func(o simtestutil.AppOptionsMap) { o["healthd.verified-tx-cache-size"] = size })
		txs := c.sign(t, 20, c.provider, c.provAddr, func(i int) []sdk.Msg {
			return []sdk.Msg{&recordstypes.MsgCreateRecords{Author: c.provAddr, Patient: c.patAdr, Purpose: "TREAT", Entries: c.entries(i, 1)}}
		})
		for _, tx := range txs {
			res, err := c.app.CheckTx(&abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
			require.NoError(t, err)
			require.Zero(t, res.Code, res.Log)
		}
		// a copy of the next transaction with its signature's last byte changed,
		// never checked: the block must refuse it
		bad := c.sign(t, 1, c.provider, c.provAddr, func(int) []sdk.Msg {
			return []sdk.Msg{&recordstypes.MsgCreateRecords{Author: c.provAddr, Patient: c.patAdr, Purpose: "TREAT", Entries: c.entries(99, 1)}}
		})[0]
		bad[len(bad)-1] ^= 1
		c.height++
		res, err := c.app.FinalizeBlock(&abci.RequestFinalizeBlock{
			Height: c.height, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(c.height) * time.Second),
			Txs: append(txs, bad),
		})
		require.NoError(t, err)
		_, err = c.app.Commit()
		require.NoError(t, err)
		var r result
		for _, tr := range res.TxResults {
			r.gas = append(r.gas, tr.GasUsed)
			r.code = append(r.code, tr.Code)
		}
		r.hash = res.AppHash
		return r
	}
	on, off := run(app.DefaultVerifiedTxCacheSize), run(0)
	require.Equal(t, off.gas, on.gas, "gas per transaction")
	require.Equal(t, off.code, on.code)
	require.Equal(t, off.hash, on.hash, "app hash")
	require.NotZero(t, on.code[len(on.code)-1], "the bad signature is refused")
	for _, code := range on.code[:len(on.code)-1] {
		require.Zero(t, code)
	}
}
