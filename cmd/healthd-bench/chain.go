package main

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/healthd-chain/healthd/app"
	"github.com/healthd-chain/healthd/crypto"
	"github.com/healthd-chain/healthd/internal/localnet"
	"github.com/healthd-chain/healthd/internal/proc"
)

// account is a pre-funded load account.
type account struct {
	key     *secp256k1.PrivKey
	addr    sdk.AccAddress
	bech32  string
	number  uint64
	nextSeq uint64
}

// signTx signs msgs as a's transaction at its next sequence, with fee 0 and
// the gas limit gas, and encodes it. It does not advance the sequence.
func (a *account) signTx(r *rand.Rand, txCfg client.TxConfig, chainID string, msgs []sdk.Msg, gas uint64) ([]byte, error) {
	tx, err := simtestutil.GenSignedMockTx(r, txCfg, msgs, sdk.NewCoins(), gas, chainID, []uint64{a.number}, []uint64{a.nextSeq}, a.key)
	if err != nil {
		return nil, err
	}
	return txCfg.TxEncoder()(tx)
}

// newAccounts derives n load accounts deterministically.
func newAccounts(n int) []*account {
	accs := make([]*account, n)
	for i := range accs {
		key := secp256k1.GenPrivKeyFromSecret([]byte(fmt.Sprintf("healthd-bench-account-%d", i)))
		addr := sdk.AccAddress(key.PubKey().Address())
		accs[i] = &account{key: key, addr: addr, bech32: addr.String()}
	}
	return accs
}

// node is the chain under test as the tool sees it: node0 (queries, RSS) and
// the RPC endpoints of every validator (transactions are spread over them).
type node struct {
	home     string
	rpc, api string
	grpc     string // node0's gRPC address
	rpcs     []string
	proc     *proc.Proc   // node0
	others   []*proc.Proc // validators 1…N-1
}

// startNode builds a fresh one-validator chain from config.yml in home with the
// load accounts funded (and registered as patients) at genesis, and starts it.
//
// prepare, if not nil, may edit the genesis file (at its path) before the node
// starts; readyTimeout bounds the wait for block 2 (InitChain of a large
// genesis takes minutes).
func startNode(ctx context.Context, binary, configPath, home string, accs []*account, mempoolSize int, pprof string, over overrides,
	prepare func(genesisPath string) error, readyTimeout time.Duration,
) (*node, error) {
	cfg, err := localnet.Load(configPath)
	if err != nil {
		return nil, err
	}
	ports, err := localnet.FreePorts(4)
	if err != nil {
		return nil, err
	}
	n := &node{
		home: home, rpc: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), api: fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		grpc: fmt.Sprintf("127.0.0.1:%d", ports[3]),
	}
	err = localnet.Init(ctx, cfg, localnet.Options{
		Binary: binary, Home: home,
		Config: mergeMaps(map[string]any{
			"rpc":     map[string]any{"laddr": fmt.Sprintf("tcp://127.0.0.1:%d", ports[0]), "pprof_laddr": pprof},
			"p2p":     map[string]any{"laddr": fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])},
			"mempool": map[string]any{"size": mempoolSize, "max_txs_bytes": int64(mempoolSize) * 8192},
		}, over.config),
		App: mergeMaps(map[string]any{
			"api":  map[string]any{"address": fmt.Sprintf("tcp://127.0.0.1:%d", ports[2])},
			"grpc": map[string]any{"address": fmt.Sprintf("127.0.0.1:%d", ports[3])},
		}, over.app),
		Client: map[string]any{"node": fmt.Sprintf("tcp://127.0.0.1:%d", ports[0])},
	})
	if err != nil {
		return nil, err
	}
	if err := fundAccounts(ctx, binary, []string{home}, accs); err != nil {
		return nil, err
	}
	if prepare != nil {
		if err := prepare(filepath.Join(home, "config", "genesis.json")); err != nil {
			return nil, err
		}
	}
	n.rpcs = []string{n.rpc}
	if n.proc, err = startProcess(binary, home, filepath.Join(filepath.Dir(home), "node.log")); err != nil {
		return nil, err
	}
	return n, n.waitReady(accs, readyTimeout)
}

// startProcess starts `healthd start` on home (internal/proc: its own process
// group, killed with the tool), output to logPath.
func startProcess(binary, home, logPath string) (*proc.Proc, error) {
	return proc.Start(binary, []string{"start", "--home", home}, logPath)
}

// waitReady waits until node0 has block 2 and every load account is on chain;
// on failure it stops what it started.
func (n *node) waitReady(accs []*account, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if h, err := n.height(); err == nil && h >= 2 {
			if err := n.loadAccountNumbers(accs); err == nil {
				return nil
			}
		}
		select {
		case <-n.proc.Exited():
			n.stop()
			return fmt.Errorf("node0 exited; see the node log in %s", filepath.Dir(n.home))
		case <-time.After(500 * time.Millisecond):
		}
	}
	n.stop()
	return fmt.Errorf("the chain did not start in %s; see the node logs in %s", timeout, filepath.Dir(n.home))
}

func (n *node) stop() {
	for _, o := range n.others {
		o.Signal(syscall.SIGTERM) // all at once: a consortium stops together
	}
	for _, o := range n.others {
		o.Stop(20 * time.Second)
	}
	if n.proc != nil {
		n.proc.Stop(20 * time.Second)
	}
}

// rssBytes is the node process's resident memory.
func (n *node) rssBytes() int64 { return n.procStatus("VmRSS") }

// peakRSSBytes is the node process's resident memory high-water mark.
func (n *node) peakRSSBytes() int64 { return n.procStatus("VmHWM") }

// procStatus reads one kB field of the node process's /proc status.
func (n *node) procStatus(field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", n.proc.Pid()))
	if err != nil {
		return 0
	}
	var kb int64
	for _, line := range splitLines(string(raw)) {
		if _, err := fmt.Sscanf(line, field+": %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func getJSON(url string, out any) error { return localnet.GetJSON(url, out) }

func (n *node) height() (int64, error) {
	st, err := localnet.Status(n.rpc)
	return st.LatestHeight, err
}

// broadcastSync sends a transaction to node0 and returns CheckTx's refusal, if any.
// rpcError is a JSON-RPC error of CometBFT's RPC.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data"`
}

func (e *rpcError) Error() string {
	return fmt.Sprintf("broadcast_tx_sync: %s (%d): %s", e.Message, e.Code, e.Data)
}

// mempoolFull reports whether the node refused a transaction because its
// mempool is full (by count or bytes): back-pressure, not a failure. The
// RPC says so only in the error's data, which is where this looks.
func (e *rpcError) mempoolFull() bool { return strings.HasPrefix(e.Data, "mempool is full") }

func (n *node) broadcastSync(tx []byte) error {
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "broadcast_tx_sync",
		"params": map[string]string{"tx": base64.StdEncoding.EncodeToString(tx)},
	})
	resp, err := httpClient.Post(n.rpc, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		Result struct {
			Code int    `json:"code"`
			Log  string `json:"log"`
		} `json:"result"`
		Error *rpcError `json:"error"`
	}
	switch {
	case json.NewDecoder(resp.Body).Decode(&out) != nil:
		return fmt.Errorf("broadcast_tx_sync: %s", resp.Status)
	case out.Error != nil:
		return out.Error
	case out.Result.Code != 0:
		return fmt.Errorf("CheckTx refused (code %d): %s", out.Result.Code, out.Result.Log)
	}
	return nil
}

// chainID is the chain's id, as node0 reports it.
func (n *node) chainID() (string, error) {
	st, err := localnet.Status(n.rpc)
	return st.ChainID, err
}

// mempoolSize is the number of transactions in node0's mempool.
func (n *node) mempoolSize() (int, error) {
	var un struct {
		Result struct {
			N string `json:"n_txs"`
		} `json:"result"`
	}
	if err := getJSON(n.rpc+"/num_unconfirmed_txs", &un); err != nil {
		return 0, err
	}
	return strconv.Atoi(un.Result.N)
}

// loadAccountNumbers reads every load account's number and sequence from the chain.
func (n *node) loadAccountNumbers(accs []*account) error {
	var resp struct {
		Accounts []struct {
			Address       string `json:"address"`
			AccountNumber string `json:"account_number"`
			Sequence      string `json:"sequence"`
		} `json:"accounts"`
	}
	if err := getJSON(n.api+"/cosmos/auth/v1beta1/accounts?pagination.limit=1000000", &resp); err != nil {
		return err
	}
	byAddr := make(map[string][2]uint64, len(resp.Accounts))
	for _, a := range resp.Accounts {
		num, _ := strconv.ParseUint(a.AccountNumber, 10, 64)
		seq, _ := strconv.ParseUint(a.Sequence, 10, 64)
		byAddr[a.Address] = [2]uint64{num, seq}
	}
	for _, a := range accs {
		v, ok := byAddr[a.bech32]
		if !ok {
			return fmt.Errorf("account %s not on chain", a.bech32)
		}
		a.number, a.nextSeq = v[0], v[1]
	}
	return nil
}

func mergeMaps(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// reservedConfigKeys are the config.toml settings the tool sets itself; a
// -config-toml value for one of them would race with the tool's in the
// flattening of the two layers.
var reservedConfigKeys = []string{"rpc.laddr", "rpc.pprof_laddr", "p2p.laddr", "mempool.size", "mempool.max_txs_bytes"}

// overrides are the node settings given on the command line: app.toml
// (-app-toml) and CometBFT's config.toml (-config-toml).
type overrides struct {
	app, config map[string]any
}

// parseOverrides reads "key=value,key=value" (keys as in the TOML file, a
// dotted key for a table's setting): true and false are booleans, integers are
// integers, the rest strings.
func parseOverrides(s string) (map[string]any, error) {
	out := map[string]any{}
	if s == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		switch {
		case v == "true" || v == "false":
			out[k] = v == "true"
		default:
			if i, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[k] = i
			} else {
				out[k] = v
			}
		}
	}
	return out, nil
}

// fundAccounts writes the load accounts (funded, registered as patients) into
// the genesis of each home (identical edits keep identical files), then
// validates the first.
func fundAccounts(ctx context.Context, binary string, homes []string, accs []*account) error {
	gen := make([]localnet.GenesisAccount, len(accs))
	for i, a := range accs {
		seed := sha512.Sum512(a.key.Bytes())
		priv, err := crypto.DeriveEncryptionKey(seed[:])
		if err != nil {
			return err
		}
		gen[i] = localnet.GenesisAccount{Address: a.bech32, Amount: 1_000_000_000, PatientKey: priv.PublicKey().Bytes()}
	}
	now := time.Now()
	for _, home := range homes {
		if err := localnet.AddGenesisAccounts(filepath.Join(home, "config", "genesis.json"), app.BondDenom, gen, now); err != nil {
			return err
		}
	}
	if out, err := exec.CommandContext(ctx, binary, "genesis", "validate", "--home", homes[0]).CombinedOutput(); err != nil {
		return fmt.Errorf("genesis validate: %v: %s", err, out)
	}
	return nil
}

// startNetwork is startNode for several validators (internal/localnet's
// network builder, on free ports); node0 is the one queried.
func startNetwork(ctx context.Context, binary, configPath, dir string, validators int, accs []*account, mempoolSize int,
	over overrides,
) (*node, error) {
	cfg, err := localnet.Load(configPath)
	if err != nil {
		return nil, err
	}
	ports, err := localnet.FreePorts(5 * validators)
	if err != nil {
		return nil, err
	}
	nodes, err := localnet.InitNetwork(ctx, cfg, localnet.NetworkOptions{
		Binary: binary, Dir: dir, Validators: validators,
		Ports: func(i int) localnet.NodePorts {
			p := ports[5*i : 5*i+5]
			return localnet.NodePorts{P2P: p[0], RPC: p[1], API: p[2], GRPC: p[3], Prometheus: p[4]}
		},
		Config: mergeMaps(map[string]any{"mempool": map[string]any{"size": mempoolSize, "max_txs_bytes": int64(mempoolSize) * 8192}}, over.config),
		App:    over.app,
	})
	if err != nil {
		return nil, err
	}
	homes := make([]string, len(nodes))
	for i, nn := range nodes {
		homes[i] = nn.Home
	}
	if err := fundAccounts(ctx, binary, homes, accs); err != nil {
		return nil, err
	}
	n := &node{
		home: nodes[0].Home, rpc: fmt.Sprintf("http://127.0.0.1:%d", nodes[0].Ports.RPC),
		api:  fmt.Sprintf("http://127.0.0.1:%d", nodes[0].Ports.API),
		grpc: fmt.Sprintf("127.0.0.1:%d", nodes[0].Ports.GRPC),
	}
	for i, nn := range nodes {
		n.rpcs = append(n.rpcs, fmt.Sprintf("http://127.0.0.1:%d", nn.Ports.RPC))
		p, err := startProcess(binary, nn.Home, filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			n.stop()
			return nil, err
		}
		if i == 0 {
			n.proc = p
		} else {
			n.others = append(n.others, p)
		}
	}
	return n, n.waitReady(accs, 3*time.Minute)
}
