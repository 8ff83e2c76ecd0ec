package network

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/internal/localnet"
)

// Network is several validator nodes of one chain, on loopback ports, each its
// own process. Every node has every key of config.yml in its test keyring.
type Network struct {
	t     testing.TB
	Dir   string
	Nodes []*Node
}

// NetworkOptions configure StartNetwork.
type NetworkOptions struct {
	// Validators is the number of validator nodes.
	Validators int
	// SnapshotInterval enables state-sync snapshots every so many blocks, each
	// node keeping the last 10 (so that a slow joiner's snapshot is not pruned
	// while it downloads it).
	SnapshotInterval int
	// Genesis overrides (after config.yml's).
	Genesis map[string]any
	// Binary is the healthd that initialises and runs the nodes (default: this
	// tree's, built by Binary).
	Binary string
	// BeforeStart, if set, runs for each node after its home is made and
	// before it starts (e.g. to run it under cosmovisor).
	BeforeStart func(i int, n *Node)
}

// StartNetwork builds an opts.Validators-validator network from config.yml on
// free loopback ports, starts every node and waits until all have block 2. The
// nodes are stopped when the test ends.
func StartNetwork(t testing.TB, opts NetworkOptions) *Network {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := localnet.Load(filepath.Join(root, "config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	bin := opts.Binary
	if bin == "" {
		bin = Binary(t)
	}
	ports, err := localnet.FreePorts(5 * opts.Validators)
	if err != nil {
		t.Fatal(err)
	}
	net := &Network{t: t, Dir: filepath.Join(t.TempDir(), "network")}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes, err := localnet.InitNetwork(ctx, cfg, localnet.NetworkOptions{
		Binary: bin, Dir: net.Dir, Validators: opts.Validators, SnapshotInterval: opts.SnapshotInterval, SnapshotKeepRecent: 10,
		Genesis: opts.Genesis,
		Ports: func(i int) localnet.NodePorts {
			p := ports[5*i : 5*i+5]
			return localnet.NodePorts{P2P: p[0], RPC: p[1], API: p[2], GRPC: p[3], Prometheus: p[4]}
		},
	})
	if err != nil {
		t.Fatalf("init network: %v", err)
	}
	for _, nn := range nodes {
		net.Nodes = append(net.Nodes, &Node{
			t: t, Binary: bin, Home: nn.Home, ChainID: cfg.ChainID(), Config: cfg, Name: nn.Name,
			RPC:     fmt.Sprintf("http://127.0.0.1:%d", nn.Ports.RPC),
			API:     fmt.Sprintf("http://127.0.0.1:%d", nn.Ports.API),
			GRPC:    fmt.Sprintf("127.0.0.1:%d", nn.Ports.GRPC),
			P2P:     fmt.Sprintf("%s@127.0.0.1:%d", nn.NodeID, nn.Ports.P2P),
			Metrics: fmt.Sprintf("127.0.0.1:%d", nn.Ports.Prometheus),
		})
	}
	for i, n := range net.Nodes {
		if opts.BeforeStart != nil {
			opts.BeforeStart(i, n)
		}
		n.Start()
		t.Cleanup(n.Stop)
	}
	for _, n := range net.Nodes {
		n.WaitForHeight(2, 2*time.Minute)
	}
	net.Nodes[0].waitForHTTP(net.Nodes[0].API+"/cosmos/base/tendermint/v1beta1/node_info", 30*time.Second)
	return net
}

// Kill kills the node's process group with SIGKILL (a crash: nothing is flushed).
func (n *Node) Kill() {
	n.t.Helper()
	if !n.proc.Running() {
		n.t.Fatalf("%s is not running", n.Name)
	}
	n.proc.Kill()
}

// Pause stops the node's processes (SIGSTOP); Resume continues them.
func (n *Node) Pause() { n.proc.Signal(syscall.SIGSTOP) }

// Resume continues a paused node (SIGCONT).
func (n *Node) Resume() { n.proc.Signal(syscall.SIGCONT) }

// Running reports whether the node's process is alive.
func (n *Node) Running() bool { return n.proc.Running() }

// Block is a committed block's identity as a node reports it.
type Block struct {
	Height  int64
	Hash    string // block hash (covers the header)
	AppHash string // app hash in the header (the state after the previous block)
}

// BlockAt returns the node's block at height h.
func (n *Node) BlockAt(h int64) (Block, error) {
	var resp struct {
		Result struct {
			BlockID struct {
				Hash string `json:"hash"`
			} `json:"block_id"`
			Block struct {
				Header struct {
					AppHash string `json:"app_hash"`
				} `json:"header"`
			} `json:"block"`
		} `json:"result"`
	}
	if err := n.getJSON(fmt.Sprintf("%s/block?height=%d", n.RPC, h), &resp); err != nil {
		return Block{}, err
	}
	if resp.Result.BlockID.Hash == "" {
		return Block{}, fmt.Errorf("%s has no block %d", n.Name, h)
	}
	return Block{Height: h, Hash: resp.Result.BlockID.Hash, AppHash: resp.Result.Block.Header.AppHash}, nil
}

// TxCommitted reports whether the node has the transaction with this hash in a
// block, and whether it succeeded there.
func (n *Node) TxCommitted(hash string) (found, ok bool) {
	var resp struct {
		Result struct {
			TxResult struct {
				Code int `json:"code"`
			} `json:"tx_result"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	if err := n.getJSON(fmt.Sprintf("%s/tx?hash=0x%s", n.RPC, hash), &resp); err != nil || len(resp.Error) > 0 {
		return false, false
	}
	return true, resp.Result.TxResult.Code == 0
}

// AssertSameChain checks that every node reports the same block hash and app
// hash at every height from 1 to the lowest latest height among them, and
// returns that height.
func (net *Network) AssertSameChain() int64 {
	net.t.Helper()
	lowest := int64(-1)
	for _, n := range net.Nodes {
		h, err := n.Height()
		if err != nil {
			net.t.Fatalf("%s: %v", n.Name, err)
		}
		if lowest < 0 || h < lowest {
			lowest = h
		}
	}
	for h := int64(1); h <= lowest; h++ {
		want, err := net.Nodes[0].BlockAt(h)
		if err != nil {
			net.t.Fatal(err)
		}
		for _, n := range net.Nodes[1:] {
			got, err := n.BlockAt(h)
			if err != nil {
				net.t.Fatal(err)
			}
			if got != want {
				net.t.Fatalf("height %d: %s has %+v, %s has %+v", h, net.Nodes[0].Name, want, n.Name, got)
			}
		}
	}
	return lowest
}

// WaitInSync waits until every node follows consensus (none is catching up)
// and all have committed a block above the highest height any of them had when
// the wait began, so that state committed anywhere before the call (a block
// from a validator's WAL after a crash, say) is on every node. It returns that
// common height.
func (net *Network) WaitInSync(timeout time.Duration) int64 {
	net.t.Helper()
	deadline := time.Now().Add(timeout)
	var target int64
	for _, n := range net.Nodes {
		if h, err := n.Height(); err == nil && h > target {
			target = h
		}
	}
	target++
	for time.Now().Before(deadline) {
		synced := true
		for _, n := range net.Nodes {
			h, catchingUp, err := n.SyncStatus()
			if err != nil || catchingUp || h < target {
				synced = false
				break
			}
		}
		if synced {
			return target
		}
		time.Sleep(250 * time.Millisecond)
	}
	var report []string
	for _, n := range net.Nodes {
		h, catchingUp, err := n.SyncStatus()
		report = append(report, fmt.Sprintf("%s: height %d, catching up %v, err %v", n.Name, h, catchingUp, err))
	}
	net.t.Fatalf("the nodes did not reach height %d in sync within %s: %s", target, timeout, strings.Join(report, "; "))
	return 0
}

// LogTail returns the end of the node's current log.
func (n *Node) LogTail(lines int) string { return tail(n.proc.LogPath(), lines) }

// LogContains reports whether the node's current log has a line with every
// one of parts.
func (n *Node) LogContains(parts ...string) bool { return logContains(n.proc.LogPath(), parts) }

// ansiColor matches the colour codes of a node's console log.
var ansiColor = regexp.MustCompile("\x1b\\[[0-9;]*m")

// logContains reports whether a line of the log at path contains every part
// (colour codes ignored).
func logContains(path string, parts []string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(ansiColor.ReplaceAllString(string(data), ""), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// StartJoiner starts a new full node (not a validator) that joins the network
// by state sync from the validators' snapshots: it trusts a recent block of
// node0 and fetches the latest snapshot instead of replaying every block. It is
// stopped when the test ends.
func (net *Network) StartJoiner(t testing.TB) *Node {
	t.Helper()
	n0 := net.Nodes[0]
	ports, err := localnet.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	j := &Node{
		t: t, Binary: n0.Binary, Home: filepath.Join(t.TempDir(), "joiner"), ChainID: n0.ChainID, Config: n0.Config, Name: "joiner",
		RPC:  fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		API:  fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		GRPC: fmt.Sprintf("127.0.0.1:%d", ports[3]),
	}
	if res := j.Exec("init", "joiner", "--chain-id", j.ChainID); res.ExitCode != 0 {
		t.Fatalf("init joiner: %s", res.Stderr)
	}
	gen, err := os.ReadFile(filepath.Join(n0.Home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(j.Home, "config", "genesis.json"), gen, 0o600); err != nil {
		t.Fatal(err)
	}
	latest, err := n0.Height()
	if err != nil {
		t.Fatal(err)
	}
	trust, err := n0.BlockAt(latest - 2)
	if err != nil {
		t.Fatal(err)
	}
	var peers, rpcs []string
	for _, n := range net.Nodes {
		peers = append(peers, n.P2P)
		rpcs = append(rpcs, strings.TrimPrefix(n.RPC, "http://"))
	}
	edits := []struct {
		file string
		kv   map[string]any
	}{
		{"config.toml", map[string]any{
			"rpc": map[string]any{"laddr": "tcp://" + strings.TrimPrefix(j.RPC, "http://"), "pprof_laddr": ""},
			"p2p": map[string]any{
				"laddr": fmt.Sprintf("tcp://127.0.0.1:%d", ports[1]), "persistent_peers": strings.Join(peers, ","),
				"allow_duplicate_ip": true, "addr_book_strict": false,
			},
			"statesync": map[string]any{
				"enable": true, "rpc_servers": strings.Join(rpcs[:2], ","), "trust_height": trust.Height,
				"trust_hash": trust.Hash, "trust_period": "168h0m0s",
			},
			"consensus": map[string]any{"timeout_commit": "1s"},
		}},
		{"app.toml", map[string]any{
			"minimum-gas-prices": "0uhealth",
			"api":                map[string]any{"enable": true, "address": "tcp://" + strings.TrimPrefix(j.API, "http://")},
			"grpc":               map[string]any{"enable": true, "address": j.GRPC},
		}},
		{"client.toml", map[string]any{"chain-id": j.ChainID, "keyring-backend": "test", "node": "tcp://" + strings.TrimPrefix(j.RPC, "http://")}},
	}
	for _, e := range edits {
		if err := localnet.EditTOML(filepath.Join(j.Home, "config", e.file), e.kv); err != nil {
			t.Fatal(err)
		}
	}
	j.Start()
	t.Cleanup(j.Stop)
	j.WaitForHeight(latest, 3*time.Minute)
	j.waitForHTTP(j.API+"/cosmos/base/tendermint/v1beta1/node_info", time.Minute)
	return j
}

// EarliestHeight is the lowest block the node has (above 1 for a node that
// joined by state sync).
func (n *Node) EarliestHeight() (int64, error) {
	st, err := localnet.Status(n.RPC)
	return st.EarliestHeight, err
}

// RestartFromExport stops every node, exports node0's state as a genesis file,
// and starts a new network from it: the same validators (their keys and node
// configuration are copied) with fresh data directories. It returns the new
// network (same ports) and the exported genesis file.
func (net *Network) RestartFromExport(t testing.TB) (*Network, string) {
	t.Helper()
	for _, n := range net.Nodes {
		n.Stop()
	}
	n0 := net.Nodes[0]
	exported := filepath.Join(t.TempDir(), "exported-genesis.json")
	if res := n0.Exec("export", "--output-document", exported); res.ExitCode != 0 {
		t.Fatalf("export: %s", res.Stderr)
	}
	next := &Network{t: t, Dir: filepath.Join(t.TempDir(), "network-from-export")}
	for _, old := range net.Nodes {
		home := filepath.Join(next.Dir, filepath.Base(old.Home))
		for _, sub := range []string{"config", "keyring-test"} {
			if err := localnet.CopyTree(filepath.Join(old.Home, sub), filepath.Join(home, sub)); err != nil {
				t.Fatal(err)
			}
		}
		gen, err := os.ReadFile(exported)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "config", "genesis.json"), gen, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(home, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, "data", "priv_validator_state.json"), []byte(`{"height":"0","round":0,"step":0}`), 0o600); err != nil {
			t.Fatal(err)
		}
		n := *old
		n.Home, n.proc = home, nil
		next.Nodes = append(next.Nodes, &n)
	}
	for _, n := range next.Nodes {
		n.Start()
		t.Cleanup(n.Stop)
	}
	return next, exported
}
