package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	sdk "github.com/cosmos/cosmos-sdk/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/healthd-chain/healthd/app"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// scenario builds the message of the i-th transaction of account a.
type scenario struct {
	name    string
	perTx   int // records (or sends) per transaction
	gas     uint64
	message func(a, next *account, i int) sdk.Msg
	// setup, if set, prepares the chain before the scenario's first step
	// (outside the measurement).
	setup func(ctx context.Context, n *node, txCfg client.TxConfig, chainID string, accs []*account) error
}

// readable maps each load account to a record it may read: one of its
// predecessor's, who consented to it. accessSetup fills it.
type readable struct {
	mu sync.Mutex
	id map[string]uint64
}

func (r *readable) of(a *account) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id[a.bech32]
}

// accessSetup gives every load account a record of its own and a consent
// (read, lab-result, TREAT) to its successor, in one transaction each, then
// notes for each account the id of its predecessor's record.
func (r *readable) accessSetup(ctx context.Context, n *node, txCfg client.TxConfig, chainID string, accs []*account) error {
	r.mu.Lock()
	done := len(r.id) > 0
	r.mu.Unlock()
	if done {
		return nil
	}
	if err := n.loadAccountNumbers(accs); err != nil {
		return err
	}
	msgs := make([][]sdk.Msg, len(accs))
	for k, a := range accs {
		next := accs[(k+1)%len(accs)]
		msgs[k] = []sdk.Msg{
			&recordstypes.MsgCreateRecords{Author: a.bech32, Purpose: "PATRQT", Entries: recordEntries(1, -1, a)},
			grantMessage(a, next),
		}
	}
	if err := submitAll(ctx, n, txCfg, chainID, "access-record setup", msgs, accs); err != nil {
		return err
	}
	ids := make(map[string]uint64, len(accs))
	for k, a := range accs {
		var resp struct {
			Records []struct {
				ID string `json:"id"`
			} `json:"records"`
		}
		if err := getJSON(n.api+"/healthd/records/v1/patients/"+a.bech32+"/records?pagination.limit=1&pagination.reverse=true", &resp); err != nil {
			return err
		}
		if len(resp.Records) == 0 {
			return fmt.Errorf("access-record setup: account %s has no record", a.bech32)
		}
		id, err := strconv.ParseUint(resp.Records[0].ID, 10, 64)
		if err != nil {
			return err
		}
		ids[accs[(k+1)%len(accs)].bech32] = id
	}
	r.mu.Lock()
	r.id = ids
	r.mu.Unlock()
	return nil
}

// recordEntries are n made-up entries (hashes of counters, never data).
func recordEntries(n, i int, a *account) []recordstypes.RecordEntry {
	out := make([]recordstypes.RecordEntry, n)
	for k := range out {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d/%d", a.bech32, i, k)))
		out[k] = recordstypes.RecordEntry{
			DataClass: "lab-result", FhirResourceType: "Observation", ContentHash: h[:], Size_: 4096,
			StorageUri: "vault://vault.bench.example/" + hex.EncodeToString(h[:8]), KeyEnvelope: h[:], KeyEpoch: 1,
		}
	}
	return out
}

// grantMessage is patient a's consent to grantee: read lab results for
// treatment, for 30 days.
func grantMessage(a, grantee *account) sdk.Msg {
	return &consenttypes.MsgGrantConsent{
		Signer: a.bech32, Patient: a.bech32, Grantee: grantee.bech32, Permissions: []string{"read"},
		DataClasses: []string{"lab-result"}, Purposes: []string{"TREAT"}, Duration: 30 * 24 * time.Hour,
	}
}

func scenarios(batch int) map[string]scenario {
	reads := &readable{}
	one := map[string]func(a, next *account, i int) sdk.Msg{
		"bank-send": func(a, next *account, _ int) sdk.Msg {
			return banktypes.NewMsgSend(a.addr, next.addr, sdk.NewCoins(sdk.NewInt64Coin(app.BondDenom, 1)))
		},
		"create-record": func(a, _ *account, i int) sdk.Msg {
			return &recordstypes.MsgCreateRecords{Author: a.bech32, Purpose: "PATRQT", Entries: recordEntries(1, i, a)}
		},
		"grant-consent": func(a, next *account, _ int) sdk.Msg { return grantMessage(a, next) },
		"access-record": func(a, _ *account, _ int) sdk.Msg {
			return &recordstypes.MsgAccessRecord{Accessor: a.bech32, RecordId: reads.of(a), Purpose: "TREAT"}
		},
	}
	// mixed: of every 10 transactions, 4 reads, 3 new records, 2 consents, 1 bank send
	mix := []string{"access-record", "create-record", "access-record", "grant-consent", "create-record", "access-record", "bank-send", "create-record", "access-record", "grant-consent"}
	return map[string]scenario{
		"bank-send":     {name: "bank-send", perTx: 1, message: one["bank-send"]},
		"create-record": {name: "create-record", perTx: 1, message: one["create-record"]},
		"create-records": {name: "create-records", perTx: batch, message: func(a, _ *account, i int) sdk.Msg {
			return &recordstypes.MsgCreateRecords{Author: a.bech32, Purpose: "PATRQT", Entries: recordEntries(batch, i, a)}
		}},
		"grant-consent": {name: "grant-consent", perTx: 1, message: one["grant-consent"]},
		"access-record": {name: "access-record", perTx: 1, message: one["access-record"], setup: reads.accessSetup},
		"mixed": {name: "mixed", perTx: 1, setup: reads.accessSetup, message: func(a, next *account, i int) sdk.Msg {
			return one[mix[i%len(mix)]](a, next, i)
		}},
	}
}

// signed is a transaction ready to send.
type signed struct {
	bytes []byte
	hash  string // upper-case hex SHA-256, as CometBFT names it
}

// sign builds and signs n transactions of sc, spread round-robin over accs
// (so that one account's consecutive sequences are far apart in time).
func sign(txCfg client.TxConfig, chainID string, sc scenario, accs []*account, n, step int) ([]signed, error) {
	out := make([]signed, n)
	r := rand.New(rand.NewSource(int64(step)))
	for i := range out {
		a := accs[i%len(accs)]
		next := accs[(i+1)%len(accs)]
		bz, err := a.signTx(r, txCfg, chainID, []sdk.Msg{sc.message(a, next, step*1_000_000+i)}, sc.gas)
		if err != nil {
			return nil, err
		}
		a.nextSeq++
		sum := sha256.Sum256(bz)
		out[i] = signed{bytes: bz, hash: strings.ToUpper(hex.EncodeToString(sum[:]))}
	}
	return out, nil
}

// txState is what the tool knows of one transaction.
type txState struct {
	submitted time.Time
	rejected  bool // CheckTx refused it (or the node did not answer)
	committed time.Time
	height    int64
	failed    bool // in a block, but its execution failed
}

// run sends txs at rate per second and follows the chain until every accepted
// one is committed (or until drain after the last send).
type loadRun struct {
	n        *node
	mu       sync.Mutex
	txs      map[string]*txState
	blocks   []blockInfo
	mempool  int
	rss      int64
	sent     int
	fromH    int64
	lastSeen int64
}

type blockInfo struct {
	height int64
	time   time.Time
	ours   int
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (r *loadRun) broadcast(tx signed) {
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "broadcast_tx_sync",
		"params": map[string]string{"tx": base64.StdEncoding.EncodeToString(tx.bytes)},
	})
	st := &txState{submitted: time.Now()}
	r.mu.Lock()
	r.txs[tx.hash] = st
	r.mu.Unlock()
	r.mu.Lock()
	r.sent++
	endpoint := r.n.rpcs[r.sent%len(r.n.rpcs)]
	r.mu.Unlock()
	resp, err := httpClient.Post(endpoint, "application/json", bytes.NewReader(body))
	if err != nil {
		r.mu.Lock()
		st.rejected = true
		r.mu.Unlock()
		return
	}
	defer resp.Body.Close()
	var out struct {
		Result struct {
			Code int `json:"code"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	if json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Error) > 0 || out.Result.Code != 0 {
		r.mu.Lock()
		st.rejected = true
		r.mu.Unlock()
	}
}

// send paces txs at rate per second over workers concurrent connections.
func (r *loadRun) send(txs []signed, rate float64) {
	queue := make(chan signed, 4096)
	var wg sync.WaitGroup
	for range 48 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tx := range queue {
				r.broadcast(tx)
			}
		}()
	}
	start := time.Now()
	for i, tx := range txs {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		queue <- tx
	}
	close(queue)
	wg.Wait()
}

// follow polls the node for new blocks until stop is closed, marking our txs
// committed when their block is seen.
func (r *loadRun) follow(stop <-chan struct{}) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	mempoolTick := 0
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		h, err := r.n.height()
		if err != nil {
			continue
		}
		for r.lastSeen < h {
			b := r.lastSeen + 1
			if err := r.readBlock(b); err != nil {
				break
			}
			r.lastSeen = b
		}
		if mempoolTick++; mempoolTick%10 == 0 {
			if m, err := r.n.mempoolSize(); err == nil {
				rss := r.n.rssBytes()
				r.mu.Lock()
				r.mempool, r.rss = max(r.mempool, m), max(r.rss, rss)
				r.mu.Unlock()
			}
		}
	}
}

func (r *loadRun) readBlock(h int64) error {
	seen := time.Now()
	var blk struct {
		Result struct {
			Block struct {
				Header struct {
					Time time.Time `json:"time"`
				} `json:"header"`
				Data struct {
					Txs []string `json:"txs"`
				} `json:"data"`
			} `json:"block"`
		} `json:"result"`
	}
	if err := getJSON(fmt.Sprintf("%s/block?height=%d", r.n.rpc, h), &blk); err != nil {
		return err
	}
	var res struct {
		Result struct {
			TxsResults []struct {
				Code int `json:"code"`
			} `json:"txs_results"`
		} `json:"result"`
	}
	if err := getJSON(fmt.Sprintf("%s/block_results?height=%d", r.n.rpc, h), &res); err != nil {
		return err
	}
	info := blockInfo{height: h, time: blk.Result.Block.Header.Time}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b64 := range blk.Result.Block.Data.Txs {
		bz, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(bz)
		st, ok := r.txs[strings.ToUpper(hex.EncodeToString(sum[:]))]
		if !ok {
			continue
		}
		info.ours++
		st.committed, st.height = seen, h
		if i < len(res.Result.TxsResults) && res.Result.TxsResults[i].Code != 0 {
			st.failed = true
		}
	}
	r.blocks = append(r.blocks, info)
	return nil
}

// Step is the measured outcome of one offered rate.
type Step struct {
	Scenario       string  `json:"scenario"`
	OfferedTxs     float64 `json:"offered_tx_per_s"`
	SentTxs        float64 `json:"sent_tx_per_s"` // what the sender achieved (it shares the machine)
	Sent           int     `json:"sent"`
	Rejected       int     `json:"rejected"`
	Committed      int     `json:"committed"`
	FailedInBlock  int     `json:"failed_in_block"`
	Lost           int     `json:"not_committed"`
	CommittedTxs   float64 `json:"committed_tx_per_s"`
	CommittedItems float64 `json:"committed_items_per_s"` // records (or sends) per second
	LatencyP50     float64 `json:"latency_p50_s"`
	LatencyP95     float64 `json:"latency_p95_s"`
	LatencyP99     float64 `json:"latency_p99_s"`
	BlockInterval  float64 `json:"block_interval_s"`
	Blocks         int     `json:"blocks"`
	MaxMempool     int     `json:"max_mempool_txs"`
	MaxRSSMiB      float64 `json:"max_node_rss_mib"`
}

// measure runs one step: sign, send at rate for duration, wait for the chain.
func measure(n *node, txCfg client.TxConfig, chainID string, sc scenario, accs []*account, rate float64,
	duration time.Duration, step int,
) (Step, error) {
	if err := n.loadAccountNumbers(accs); err != nil {
		return Step{}, err
	}
	count := int(rate * duration.Seconds())
	txs, err := sign(txCfg, chainID, sc, accs, count, step)
	if err != nil {
		return Step{}, err
	}
	h, err := n.height()
	if err != nil {
		return Step{}, err
	}
	r := &loadRun{n: n, txs: make(map[string]*txState, count), fromH: h, lastSeen: h}
	if err := r.readBlock(h); err != nil { // the time the step starts from
		return Step{}, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { r.follow(stop); close(done) }()
	sendStart := time.Now()
	r.send(txs, rate)
	sendTime := time.Since(sendStart)
	// drain: until every accepted tx is committed, or 30 s without progress
	last, lastProgress := -1, time.Now()
	for time.Since(lastProgress) < 30*time.Second {
		r.mu.Lock()
		pending := 0
		for _, st := range r.txs {
			if !st.rejected && st.committed.IsZero() {
				pending++
			}
		}
		r.mu.Unlock()
		if pending == 0 {
			break
		}
		if pending != last {
			last, lastProgress = pending, time.Now()
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-done
	s := r.summarise(sc, rate)
	s.SentTxs = float64(len(txs)) / sendTime.Seconds()
	return s, nil
}

func (r *loadRun) summarise(sc scenario, rate float64) Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Step{Scenario: sc.name, OfferedTxs: rate, Sent: len(r.txs), MaxMempool: r.mempool, MaxRSSMiB: float64(r.rss) / (1 << 20)}
	var lat []float64
	var first, last int64
	for _, st := range r.txs {
		switch {
		case st.rejected:
			s.Rejected++
		case st.committed.IsZero():
			s.Lost++
		case st.failed:
			s.FailedInBlock++
		default:
			s.Committed++
			lat = append(lat, st.committed.Sub(st.submitted).Seconds())
			if first == 0 || st.height < first {
				first = st.height
			}
			last = max(last, st.height)
		}
	}
	slices.Sort(lat)
	s.LatencyP50, s.LatencyP95, s.LatencyP99 = percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99)
	// throughput over the blocks that carried our transactions: from the block
	// before the first to the last, by block time
	var startT, endT time.Time
	for i, b := range r.blocks {
		if b.height == first && i > 0 {
			startT = r.blocks[i-1].time
		}
		if b.height == last {
			endT = b.time
		}
	}
	if span := endT.Sub(startT).Seconds(); span > 0 && !startT.IsZero() {
		s.CommittedTxs = float64(s.Committed) / span
		s.CommittedItems = s.CommittedTxs * float64(sc.perTx)
		s.Blocks = int(last - first + 1)
		s.BlockInterval = span / float64(s.Blocks)
	}
	return s
}

// estimateGas simulates one transaction of sc and returns a limit with margin.
// It simulates the first ten message indexes and keeps the largest, so that a
// scenario mixing messages (mixed) gets a limit for its heaviest.
func estimateGas(n *node, txCfg client.TxConfig, chainID string, sc scenario, a, next *account) (uint64, error) {
	var most uint64
	r := rand.New(rand.NewSource(1))
	for k := range 10 { // message index k: a mixed scenario's ten kinds
		bz, err := a.signTx(r, txCfg, chainID, []sdk.Msg{sc.message(a, next, k)}, 50_000_000)
		if err != nil {
			return 0, err
		}
		used, err := simulateGas(n, bz)
		if err != nil {
			return 0, fmt.Errorf("simulating %s: %w", sc.name, err)
		}
		most = max(most, used)
	}
	return most*13/10 + 10_000, nil
}

// simulateGas returns the gas a signed transaction uses, simulated by node0.
func simulateGas(n *node, tx []byte) (uint64, error) {
	body, _ := json.Marshal(map[string]string{"tx_bytes": base64.StdEncoding.EncodeToString(tx)})
	resp, err := httpClient.Post(n.api+"/cosmos/tx/v1beta1/simulate", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		GasInfo struct {
			GasUsed string `json:"gas_used"`
		} `json:"gas_info"`
		Message string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	used, err := strconv.ParseUint(out.GasInfo.GasUsed, 10, 64)
	if err != nil || used == 0 {
		return 0, errors.New(out.Message)
	}
	return used, nil
}

// percentile is the p-quantile (0 ≤ p < 1) of sorted values, 0 if there are none.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}
