// Package network is the end-to-end test harness: it builds the healthd binary
// once, starts real nodes in temporary homes on free loopback ports (built from the
// repository's config.yml through internal/localnet), drives them with the CLI,
// REST and gRPC, and always stops them — when the test ends, fails, or the test
// binary dies (a child node is killed with its parent).
package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cosmos/cosmos-sdk/codec"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"

	"github.com/healthd-chain/healthd/internal/localnet"
	"github.com/healthd-chain/healthd/internal/proc"
)

var (
	buildMu  sync.Mutex
	buildDir string
	built    = map[string]string{} // package@tags -> binary path
)

// RepoRoot returns the repository root (the directory of go.mod).
func RepoRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the harness source file")
	}
	// this file is testutil/network/network.go
	return filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary builds healthd once per test process (into a temporary directory) and
// returns its path. The build stamps the git commit, as `make build` does.
func Binary(t testing.TB) string {
	t.Helper()
	return Build(t, "./cmd/healthd")
}

// Build builds a main package of this repository (e.g. "./cmd/localnet") once per
// test process and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	return BuildTags(t, pkg, "")
}

// BuildTags is Build with Go build tags (comma-separated; e.g. "healthd_prev"
// builds the release before the newest upgrade, see app/upgrades_list_prev.go).
func BuildTags(t testing.TB, pkg, tags string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := pkg + "@" + tags
	if path, ok := built[key]; ok {
		return path
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if buildDir == "" {
		if buildDir, err = os.MkdirTemp("", "healthd-e2e-bin-"); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(buildDir, filepath.Base(pkg))
	if tags != "" {
		path = filepath.Join(buildDir, strings.ReplaceAll(tags, ",", "-"), filepath.Base(pkg))
	}
	commit, _ := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	ldflags := "-X github.com/cosmos/cosmos-sdk/version.Name=healthd" +
		" -X github.com/cosmos/cosmos-sdk/version.AppName=healthd" +
		" -X github.com/cosmos/cosmos-sdk/version.Commit=" + strings.TrimSpace(string(commit))
	cmd := exec.Command("go", "build", "-tags", tags, "-ldflags", ldflags, "-o", path, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %q %s: %v\n%s", tags, pkg, err, out)
	}
	built[key] = path
	return path
}

// Node is one running healthd node with its own home and ports.
type Node struct {
	t       testing.TB
	Binary  string
	Home    string
	ChainID string
	Config  *localnet.Config

	// Name is the node's moniker (network nodes).
	Name string
	// CLITimeout bounds each Exec (default 2 minutes).
	CLITimeout time.Duration
	// RPC and API are http:// base URLs; GRPC is host:port; P2P is
	// node-id@host:port (network nodes).
	RPC, API, GRPC, P2P string
	// Metrics is host:port of the node's Prometheus endpoint (/metrics:
	// CometBFT's and healthd's chain metrics).
	Metrics string

	// Cosmovisor, if set, is the cosmovisor binary the node runs under
	// (UseCosmovisor); Binary stays the binary of its CLI calls.
	Cosmovisor string

	proc *proc.Proc
}

// startProc starts bin with args, output to logPath (internal/proc: its own
// process group, killed with the test binary if that dies without running its
// cleanups, as a test timeout does).
func startProc(t testing.TB, bin string, args []string, logPath string) *proc.Proc {
	t.Helper()
	p, err := proc.Start(bin, args, logPath)
	if err != nil {
		t.Fatalf("start %s: %v", filepath.Base(bin), err)
	}
	return p
}

// stopGrace is how long a stopped process may take to exit before SIGKILL.
const stopGrace = 20 * time.Second

// StartNode builds a single-validator chain from the repository's config.yml in a
// temporary home, starts it, and waits for its first blocks. The node is stopped
// when the test ends.
func StartNode(t testing.TB) *Node {
	t.Helper()
	return StartNodeBinary(t, Binary(t))
}

// StartNodeBinary is StartNode running bin (a healthd built elsewhere, e.g.
// from an earlier commit for a before/after benchmark); its vault, portal and
// CLI calls run the same binary.
func StartNodeBinary(t testing.TB, bin string) *Node {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := localnet.Load(filepath.Join(root, "config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	ports, err := localnet.FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	rpcPort, p2pPort, apiPort, grpcPort, promPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	n := &Node{
		t:       t,
		Binary:  bin,
		Home:    filepath.Join(t.TempDir(), "node"),
		ChainID: cfg.ChainID(),
		Config:  cfg,
		RPC:     fmt.Sprintf("http://127.0.0.1:%d", rpcPort),
		API:     fmt.Sprintf("http://127.0.0.1:%d", apiPort),
		GRPC:    fmt.Sprintf("127.0.0.1:%d", grpcPort),
		Metrics: fmt.Sprintf("127.0.0.1:%d", promPort),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = localnet.Init(ctx, cfg, localnet.Options{
		Binary: bin,
		Home:   n.Home,
		Config: map[string]any{
			"rpc":             map[string]any{"laddr": fmt.Sprintf("tcp://127.0.0.1:%d", rpcPort), "pprof_laddr": ""},
			"p2p":             map[string]any{"laddr": fmt.Sprintf("tcp://127.0.0.1:%d", p2pPort)},
			"instrumentation": map[string]any{"prometheus": true, "prometheus_listen_addr": n.Metrics},
		},
		App: map[string]any{
			"api":  map[string]any{"address": fmt.Sprintf("tcp://127.0.0.1:%d", apiPort)},
			"grpc": map[string]any{"address": n.GRPC},
		},
		Client: map[string]any{"node": fmt.Sprintf("tcp://127.0.0.1:%d", rpcPort)},
	})
	if err != nil {
		t.Fatalf("init node home: %v", err)
	}
	n.Start()
	t.Cleanup(n.Stop)
	n.WaitForHeight(2, time.Minute)
	n.waitForHTTP(n.API+"/cosmos/base/tendermint/v1beta1/node_info", 30*time.Second)
	return n
}

// Start starts (or restarts) the node process on its existing home.
func (n *Node) Start() {
	n.t.Helper()
	if n.proc.Running() {
		n.t.Fatal("node is already running")
	}
	logPath := filepath.Join(filepath.Dir(n.Home), fmt.Sprintf("%s-%d.log", filepath.Base(n.Home), time.Now().UnixNano()))
	if n.Cosmovisor == "" {
		n.proc = startProc(n.t, n.Binary, []string{"start", "--home", n.Home}, logPath)
		return
	}
	p, err := proc.StartEnv(n.Cosmovisor, []string{"run", "start", "--home", n.Home}, n.cosmovisorEnv(), logPath)
	if err != nil {
		n.t.Fatalf("start cosmovisor: %v", err)
	}
	n.proc = p
}

// Stop stops the node: SIGTERM to its process group, SIGKILL after 20 s. On a
// failed test it logs the end of the node's log.
func (n *Node) Stop() {
	if n.proc == nil {
		return
	}
	n.proc.Stop(stopGrace)
	if n.t.Failed() {
		n.t.Logf("last lines of the node log %s:\n%s", n.proc.LogPath(), tail(n.proc.LogPath(), 40))
	}
}

// Height returns the node's latest block height.
func (n *Node) Height() (int64, error) {
	h, _, err := n.SyncStatus()
	return h, err
}

// SyncStatus returns the node's latest block height and whether it says it is
// still catching up (block sync or state sync) rather than following consensus.
func (n *Node) SyncStatus() (height int64, catchingUp bool, err error) {
	st, err := localnet.Status(n.RPC)
	return st.LatestHeight, st.CatchingUp, err
}

// WaitForHeight waits until the node has committed block h.
func (n *Node) WaitForHeight(h int64, timeout time.Duration) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if !n.proc.Running() {
			n.t.Fatalf("node exited (%v) before height %d; log:\n%s", n.proc.Err(), h, tail(n.proc.LogPath(), 40))
		}
		got, err := n.Height()
		if err == nil && got >= h {
			return
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	n.t.Fatalf("height %d not reached in %s (last error: %v); log:\n%s", h, timeout, last, tail(n.proc.LogPath(), 40))
}

func (n *Node) waitForHTTP(url string, timeout time.Duration) {
	n.t.Helper()
	waitForHTTP(n.t, url, timeout)
}

// waitForHTTP waits until url answers 200.
func waitForHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url) //nolint:gosec // loopback URL built by the harness
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer in %s", url, timeout)
}

// Result is the outcome of one CLI invocation: its output and exit code, its
// wall and CPU (user + system) time, and its peak resident memory.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
	Wall, CPU      time.Duration
	PeakRSS        int64 // bytes
}

// Exec runs `healthd ARGS --home HOME` and returns its output and exit code; it
// fails the test only if the binary could not be run at all. A command is
// killed after the node's CLITimeout (default 2 minutes).
func (n *Node) Exec(args ...string) Result {
	n.t.Helper()
	timeout := n.CLITimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.Binary, append(args, "--home", n.Home)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Wall: time.Since(start)}
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.PeakRSS = ru.Maxrss << 10 // kilobytes on Linux
		}
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	default:
		n.t.Fatalf("run healthd %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// CLI runs a command that must succeed and returns its stdout.
func (n *Node) CLI(args ...string) string {
	n.t.Helper()
	res := n.Exec(args...)
	if res.ExitCode != 0 {
		n.t.Fatalf("healthd %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.ExitCode, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

// CLIJSON runs a command that must succeed and decodes its JSON output into out.
func (n *Node) CLIJSON(out any, args ...string) {
	n.t.Helper()
	stdout := n.CLI(append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		n.t.Fatalf("healthd %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// Address returns the address of a key in the node's test keyring.
func (n *Node) Address(name string) string {
	n.t.Helper()
	return strings.TrimSpace(n.CLI("keys", "show", name, "-a", "--keyring-backend", localnet.KeyringBackend))
}

// GetJSON GETs a REST path (e.g. /cosmos/bank/v1beta1/balances/ADDR) and decodes
// the JSON answer into out; a non-200 answer is an error.
func (n *Node) GetJSON(path string, out any) error {
	return n.getJSON(n.API+path, out)
}

func (n *Node) getJSON(url string, out any) error { return localnet.GetJSON(url, out) }

// GRPCConn returns a gRPC connection to the node that encodes the SDK's gogoproto
// messages; it is closed when the test ends.
func (n *Node) GRPCConn() *grpc.ClientConn {
	n.t.Helper()
	cdc := codec.NewProtoCodec(codectypes.NewInterfaceRegistry())
	conn, err := grpc.NewClient(n.GRPC,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(cdc.GRPCCodec())))
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Main runs the tests of a package and then removes the binaries Build built. Use
// it as the package's TestMain: func TestMain(m *testing.M) { network.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// Vault is a running `healthd vault start` beside a node.
type Vault struct {
	URL  string
	Data string
	t    testing.TB
	bin  string
	args []string
	proc *proc.Proc
}

// StartVault starts a vault for node n on a free loopback port, with a short
// garbage-collection interval, and waits for /healthz. It is stopped when the
// test ends. extra are more `vault start` flags.
func StartVault(t testing.TB, n *Node, extra ...string) *Vault {
	t.Helper()
	ports, err := localnet.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	v := &Vault{URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), Data: filepath.Join(filepath.Dir(n.Home), "vault"), t: t, bin: n.Binary}
	for i, arg := range extra { // a replica has its own --data
		if arg == "--data" && i+1 < len(extra) {
			v.Data = extra[i+1]
		}
	}
	v.args = []string{
		"vault", "start", "--home", n.Home, "--data", v.Data,
		"--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--chain-grpc", n.GRPC, "--gc-interval", "2s",
	}
	v.args = append(v.args, extra...)
	v.start()
	t.Cleanup(func() {
		v.proc.Stop(stopGrace)
		if t.Failed() {
			t.Logf("last lines of the vault log:\n%s", tail(v.proc.LogPath(), 30))
		}
	})
	return v
}

func (v *Vault) start() {
	v.t.Helper()
	v.proc = startProc(v.t, v.bin, v.args, filepath.Join(filepath.Dir(v.Data), fmt.Sprintf("vault-%d.log", time.Now().UnixNano())))
	waitForHTTP(v.t, v.URL+"/healthz", 30*time.Second)
}

// Kill kills the vault with SIGKILL (a crash); Restart starts it again on the
// same data directory and port.
func (v *Vault) Kill() {
	v.proc.Kill()
}

// Restart starts a killed or stopped vault again.
func (v *Vault) Restart() { v.start() }

// Stop stops the vault (SIGTERM).
func (v *Vault) Stop() { v.proc.Stop(stopGrace) }

// LogContains reports whether a line of the vault's log (since its last
// start) contains every part.
func (v *Vault) LogContains(parts ...string) bool { return logContains(v.proc.LogPath(), parts) }

// Portal is a running `healthd portal` for one key of a node's keyring.
type Portal struct {
	// URL is the portal's base URL; Login opens a session (it carries the
	// portal's secret token).
	URL, Login string
	proc       *proc.Proc
}

// StartPortal starts `healthd portal --from key` against node n and the vault
// at vaultURL, on a free loopback port, and waits until it answers. It is
// stopped when the test ends.
func StartPortal(t testing.TB, n *Node, key, vaultURL string) *Portal {
	t.Helper()
	return StartPortalEnv(t, n, key, vaultURL)
}

// StartPortalEnv is StartPortal with env (KEY=value) added to the portal's
// environment: TMPDIR, say, for a test that scans the portal's temporary
// files.
func StartPortalEnv(t testing.TB, n *Node, key, vaultURL string, env ...string) *Portal {
	t.Helper()
	ports, err := localnet.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	urlFile := filepath.Join(dir, "url")
	p := &Portal{URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	p.proc, err = proc.StartEnv(n.Binary, []string{
		"portal", "--home", n.Home, "--from", key, "--keyring-backend", "test", "--chain-id", n.ChainID,
		"--node", "tcp://" + strings.TrimPrefix(n.RPC, "http://"), "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--vault", vaultURL, "--url-file", urlFile,
	}, env, filepath.Join(dir, "portal.log"))
	if err != nil {
		t.Fatalf("start the portal: %v", err)
	}
	t.Cleanup(func() {
		p.proc.Stop(stopGrace)
		if t.Failed() {
			t.Logf("last lines of %s's portal log:\n%s", key, tail(p.proc.LogPath(), 30))
		}
	})
	waitForHTTP(t, p.URL+"/healthz", 30*time.Second)
	raw, err := os.ReadFile(urlFile)
	if err != nil {
		t.Fatalf("the portal wrote no login link: %v", err)
	}
	p.Login = strings.TrimSpace(string(raw))
	return p
}

// Custodian is a running `healthd custodian start` (issue #17).
type Custodian struct {
	Key  string
	proc *proc.Proc
}

// StartCustodian starts `healthd custodian start --from key` with the keyring
// of node keys (which holds the config.yml accounts), talking to node via
// (its own node, beside it), polling every second. It is stopped when the
// test ends.
func StartCustodian(t testing.TB, keys, via *Node, key string) *Custodian {
	t.Helper()
	args := []string{
		"custodian", "start", "--from", key, "--home", keys.Home, "--keyring-backend", "test",
		"--node", "tcp://" + strings.TrimPrefix(via.RPC, "http://"), "--chain-id", via.ChainID, "--interval", "1s",
	}
	c := &Custodian{Key: key}
	c.proc = startProc(t, keys.Binary, args, filepath.Join(filepath.Dir(keys.Home), fmt.Sprintf("custodian-%s-%d.log", key, time.Now().UnixNano())))
	t.Cleanup(func() {
		c.proc.Stop(stopGrace)
		if t.Failed() {
			t.Logf("last lines of the %s log:\n%s", key, tail(c.proc.LogPath(), 20))
		}
	})
	return c
}

// Kill kills the custodian with SIGKILL.
func (c *Custodian) Kill() { c.proc.Kill() }

// LogContains reports whether a line of the custodian's log contains every part.
func (c *Custodian) LogContains(parts ...string) bool { return logContains(c.proc.LogPath(), parts) }

// FHIRServer is a running `healthd fhir serve` (issue #18).
type FHIRServer struct {
	URL  string
	proc *proc.Proc
}

// StartFHIRServer starts `healthd fhir serve --from key` against node n and
// the vault at vaultURL, with the SMART clients file clients and the MRN
// table patients, on a free loopback port, and waits until it answers. It is
// stopped when the test ends.
func StartFHIRServer(t testing.TB, n *Node, key, vaultURL, clients, patients string, extra ...string) *FHIRServer {
	t.Helper()
	ports, err := localnet.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	s := &FHIRServer{URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	s.proc = startProc(t, n.Binary, append([]string{
		"fhir", "serve", "--home", n.Home, "--from", key, "--keyring-backend", "test", "--chain-id", n.ChainID,
		"--node", "tcp://" + strings.TrimPrefix(n.RPC, "http://"), "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--vault", vaultURL, "--clients", clients, "--patients", patients,
	}, extra...), filepath.Join(filepath.Dir(n.Home), fmt.Sprintf("fhir-%s-%d.log", key, ports[0])))
	t.Cleanup(func() {
		s.proc.Stop(stopGrace)
		if t.Failed() {
			t.Logf("last lines of %s's FHIR server log:\n%s", key, tail(s.proc.LogPath(), 30))
		}
	})
	waitForHTTP(t, s.URL+"/metadata", 30*time.Second)
	return s
}

// LogContains reports whether a line of the server's log contains every part.
func (s *FHIRServer) LogContains(parts ...string) bool { return logContains(s.proc.LogPath(), parts) }

// LogPath is the server's log file.
func (s *FHIRServer) LogPath() string { return s.proc.LogPath() }
