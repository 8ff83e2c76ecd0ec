package localnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// NodePorts are the loopback ports of one node of a network.
type NodePorts struct {
	P2P, RPC, API, GRPC, Prometheus int
}

// DefaultPorts spaces the nodes of a local network: node i listens on P2P
// 26656+10i, RPC 26657+10i, Prometheus 26660+10i, REST 1317+i and gRPC 9090+i.
func DefaultPorts(i int) NodePorts {
	return NodePorts{P2P: 26656 + 10*i, RPC: 26657 + 10*i, Prometheus: 26660 + 10*i, API: 1317 + i, GRPC: 9090 + i}
}

// NetworkOptions say where and how to build a multi-validator network.
type NetworkOptions struct {
	// Binary is the healthd binary to drive.
	Binary string
	// Dir receives one home per node (node0, node1, …). It must not exist, or be empty.
	Dir string
	// Validators is the number of validator nodes (at least 1).
	Validators int
	// Ports gives each node's ports (DefaultPorts if nil).
	Ports func(i int) NodePorts
	// SnapshotInterval is the state-sync snapshot interval in blocks (0: the
	// config's own setting).
	SnapshotInterval int
	// SnapshotKeepRecent is how many snapshots each node keeps (0: the config's).
	// A joining node needs its snapshot to outlive the download.
	SnapshotKeepRecent int
	// Genesis overrides applied after the config's (tests shorten periods).
	Genesis map[string]any
	// App and Config overrides applied to every node after the config's.
	App, Config map[string]any
}

// NetworkNode is one node of a built network.
type NetworkNode struct {
	// Name is the node's moniker and its validator's key name.
	Name string `json:"name"`
	// Home is the node home.
	Home string `json:"home"`
	// NodeID is the CometBFT node id (for peers).
	NodeID string `json:"node_id"`
	// Operator is the validator operator's account address.
	Operator string `json:"operator"`
	// Ports are its listen ports.
	Ports NodePorts `json:"ports"`
}

// networkFile describes a built network, in Dir.
const networkFile = "network.json"

// Network is the content of the network file.
type Network struct {
	ChainID      string        `json:"chain_id"`
	ConfigDigest string        `json:"config_sha256"`
	Nodes        []NetworkNode `json:"nodes"`
}

// ReadNetwork returns the description of a completely built network in dir, or
// an error wrapping os.ErrNotExist.
func ReadNetwork(dir string) (Network, error) {
	var n Network
	raw, err := os.ReadFile(filepath.Join(dir, networkFile))
	if err != nil {
		return n, err
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return n, fmt.Errorf("%s: %w", networkFile, err)
	}
	return n, nil
}

// InitNetwork builds an N-validator network from cfg in opts.Dir: node0 is the
// config's validator, node1… get fresh validator keys with the same bond. Every
// node has every key (the test keyring) and the same genesis; each lists the
// others as persistent peers on loopback, serves Prometheus metrics, and takes
// state-sync snapshots. The genesis validators are the approved validator
// operators (x/providers params).
func InitNetwork(ctx context.Context, cfg *Config, opts NetworkOptions) ([]NetworkNode, error) {
	if opts.Validators < 1 {
		return nil, fmt.Errorf("validators: at least 1, got %d", opts.Validators)
	}
	if entries, err := os.ReadDir(opts.Dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s already exists and is not empty; remove it first to build a new network there", opts.Dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if opts.Ports == nil {
		opts.Ports = DefaultPorts
	}
	val := cfg.Validator()
	nodes := make([]NetworkNode, opts.Validators)
	runs := make([]runner, opts.Validators)
	for i := range nodes {
		name := val.Name
		if i > 0 {
			name = fmt.Sprintf("%s%d", val.Name, i)
		}
		nodes[i] = NetworkNode{Name: name, Home: filepath.Join(opts.Dir, fmt.Sprintf("node%d", i)), Ports: opts.Ports(i)}
		runs[i] = runner{ctx: ctx, binary: opts.Binary, home: nodes[i].Home}
		if _, err := runs[i].do(nil, "init", name, "--chain-id", cfg.ChainID()); err != nil {
			return nil, err
		}
		id, err := runs[i].do(nil, "comet", "show-node-id")
		if err != nil {
			return nil, err
		}
		nodes[i].NodeID = strings.TrimSpace(string(id))
	}

	// Accounts and keys, in node0: the config's, then a key per extra validator
	// funded like the config's validator.
	first := runs[0]
	var valCoins string
	for _, acc := range cfg.Accounts {
		ref := acc.Address
		if acc.Mnemonic != "" {
			if _, err := first.do([]byte(acc.Mnemonic+"\n"), "keys", "add", acc.Name, "--recover", "--keyring-backend", KeyringBackend); err != nil {
				return nil, err
			}
			ref = acc.Name
		}
		coins, _ := acc.ParsedCoins()
		if acc.Name == val.Name {
			valCoins = coins.String()
		}
		if _, err := first.do(nil, "genesis", "add-genesis-account", ref, coins.String(), "--keyring-backend", KeyringBackend); err != nil {
			return nil, err
		}
	}
	for i := 1; i < len(nodes); i++ {
		if _, err := first.do(nil, "keys", "add", nodes[i].Name, "--keyring-backend", KeyringBackend); err != nil {
			return nil, err
		}
		if _, err := first.do(nil, "genesis", "add-genesis-account", nodes[i].Name, valCoins, "--keyring-backend", KeyringBackend); err != nil {
			return nil, err
		}
	}
	for i := range nodes {
		out, err := first.do(nil, "keys", "show", nodes[i].Name, "-a", "--keyring-backend", KeyringBackend)
		if err != nil {
			return nil, err
		}
		nodes[i].Operator = strings.TrimSpace(string(out))
	}

	// Every node signs its gentx over the same accounts; node0 collects them.
	genFile := func(i int) string { return filepath.Join(nodes[i].Home, "config", "genesis.json") }
	for i := range nodes {
		if i > 0 {
			if err := copyFile(genFile(0), genFile(i)); err != nil {
				return nil, err
			}
			if err := CopyTree(filepath.Join(nodes[0].Home, "keyring-test"), filepath.Join(nodes[i].Home, "keyring-test")); err != nil {
				return nil, err
			}
		}
		if _, err := runs[i].do(nil, "genesis", "gentx", nodes[i].Name, val.Bonded, "--chain-id", cfg.ChainID(),
			"--moniker", nodes[i].Name, "--keyring-backend", KeyringBackend); err != nil {
			return nil, err
		}
		if i > 0 {
			gentxs, err := filepath.Glob(filepath.Join(nodes[i].Home, "config", "gentx", "*.json"))
			if err != nil || len(gentxs) != 1 {
				return nil, fmt.Errorf("node%d: want one gentx, found %v (%v)", i, gentxs, err)
			}
			if err := copyFile(gentxs[0], filepath.Join(nodes[0].Home, "config", "gentx", filepath.Base(gentxs[0]))); err != nil {
				return nil, err
			}
		}
	}
	if _, err := first.do(nil, "genesis", "collect-gentxs"); err != nil {
		return nil, err
	}
	if err := MergeGenesis(genFile(0), cfg.Genesis); err != nil {
		return nil, fmt.Errorf("genesis overrides: %w", err)
	}
	if err := MergeGenesis(genFile(0), opts.Genesis); err != nil {
		return nil, fmt.Errorf("genesis overrides: %w", err)
	}
	operators := make([]string, len(nodes))
	for i, n := range nodes {
		operators[i] = n.Operator
	}
	if err := ApproveValidatorOperators(genFile(0), operators); err != nil {
		return nil, err
	}
	if _, err := first.do(nil, "genesis", "validate"); err != nil {
		return nil, err
	}

	for i := range nodes {
		if i > 0 {
			if err := copyFile(genFile(0), genFile(i)); err != nil {
				return nil, err
			}
		}
		var peers []string
		for j, o := range nodes {
			if j != i {
				peers = append(peers, fmt.Sprintf("%s@127.0.0.1:%d", o.NodeID, o.Ports.P2P))
			}
		}
		p := nodes[i].Ports
		config := map[string]any{
			"rpc": map[string]any{"laddr": fmt.Sprintf("tcp://127.0.0.1:%d", p.RPC), "pprof_laddr": ""},
			"p2p": map[string]any{
				"laddr": fmt.Sprintf("tcp://127.0.0.1:%d", p.P2P), "persistent_peers": strings.Join(peers, ","),
				"allow_duplicate_ip": true, "addr_book_strict": false,
			},
			"instrumentation": map[string]any{"prometheus": true, "prometheus_listen_addr": fmt.Sprintf("127.0.0.1:%d", p.Prometheus)},
		}
		app := map[string]any{
			"api":  map[string]any{"address": fmt.Sprintf("tcp://127.0.0.1:%d", p.API)},
			"grpc": map[string]any{"address": fmt.Sprintf("127.0.0.1:%d", p.GRPC)},
		}
		stateSync := map[string]any{}
		if opts.SnapshotInterval > 0 {
			stateSync["snapshot-interval"] = opts.SnapshotInterval
		}
		if opts.SnapshotKeepRecent > 0 {
			stateSync["snapshot-keep-recent"] = opts.SnapshotKeepRecent
		}
		if len(stateSync) > 0 {
			app["state-sync"] = stateSync
		}
		client := map[string]any{
			"chain-id": cfg.ChainID(), "keyring-backend": KeyringBackend, "node": fmt.Sprintf("tcp://127.0.0.1:%d", p.RPC),
		}
		for _, f := range []struct {
			file   string
			layers []map[string]any
		}{
			{"app.toml", []map[string]any{val.App, opts.App, app}},
			{"config.toml", []map[string]any{val.Config, opts.Config, config}},
			{"client.toml", []map[string]any{val.Client, client}},
		} {
			path := filepath.Join(nodes[i].Home, "config", f.file)
			for _, layer := range f.layers {
				if err := EditTOML(path, layer); err != nil {
					return nil, fmt.Errorf("node%d %s overrides: %w", i, f.file, err)
				}
			}
		}
	}

	desc, err := json.MarshalIndent(Network{ChainID: cfg.ChainID(), ConfigDigest: cfg.Digest(), Nodes: nodes}, "", "  ")
	if err != nil {
		return nil, err
	}
	return nodes, os.WriteFile(filepath.Join(opts.Dir, networkFile), append(desc, '\n'), 0o644)
}

// ApproveValidatorOperators adds accounts to the approved validator operators
// (x/providers params validator_operators) of the genesis file at path.
func ApproveValidatorOperators(path string, accounts []string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	appState, _ := doc["app_state"].(map[string]any)
	providers, _ := appState["providers"].(map[string]any)
	params, _ := providers["params"].(map[string]any)
	if params == nil {
		return fmt.Errorf("%s: no app_state.providers.params", path)
	}
	var ops []any
	if existing, ok := params["validator_operators"].([]any); ok {
		ops = existing
	}
	for _, a := range accounts {
		if !slices.Contains(ops, any(a)) {
			ops = append(ops, a)
		}
	}
	params["validator_operators"] = ops
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o600)
}

// CopyTree copies the files under from into to (created as needed), owner-only.
func CopyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		return copyFile(p, filepath.Join(to, rel))
	})
}

// FreePorts returns n distinct loopback TCP ports that were free a moment ago
// (held together while they are chosen, so they differ).
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
