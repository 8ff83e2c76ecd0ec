package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/testutil/network"
)

// load is a client that keeps sending record and consent transactions, each
// from its own account (so their sequences never clash), and remembers every
// transaction it saw committed: the ones that must never be lost.
type load struct {
	mu        sync.Mutex
	committed map[string]string // tx hash → what it was
	sent      int
	failed    int
	stop      chan struct{}
	stopOnce  sync.Once
	wg        sync.WaitGroup
}

// startLoad sends, until stopped, records by hospital for alice through one
// node and consents by bob through another (given alice's write consent to the
// hospital exists). A transaction counts as committed when the CLI (which waits
// for the block) says so.
func startLoad(t *testing.T, records, consents *network.Node, tag string) *load {
	t.Helper()
	l := &load{committed: map[string]string{}, stop: make(chan struct{})}
	// a subtest that fails half-way must not leave its load running into the
	// next one (its transactions would race the next CLI's sequence)
	t.Cleanup(func() { l.finish() })
	alice, lab := records.Address("alice"), records.Address("lab")
	send := func(n *network.Node, what string, args ...string) {
		res := n.Exec(append(args, "--yes", "--output", "json", "--commit-timeout", "20s")...)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.sent++
		var out struct {
			TxHash string `json:"txhash"`
		}
		if res.ExitCode != 0 || json.Unmarshal([]byte(firstLine(res.Stdout)), &out) != nil || out.TxHash == "" {
			l.failed++
			return
		}
		l.committed[out.TxHash] = what
	}
	loop := func(body func(i int)) {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				body(i)
			}
		}()
	}
	loop(func(i int) {
		seed := fmt.Sprintf("%s-%d", tag, i)
		send(records, "record "+seed, "tx", "records", "create", "TREAT", entryFor(seed), "--patient", alice, "--from", "hospital")
	})
	loop(func(i int) {
		send(consents, fmt.Sprintf("consent %s-%d", tag, i), "tx", "consent", "grant", lab, "--classes", "allergy",
			"--purposes", "TREAT", "--permissions", "read", "--expires", "720h", "--from", "bob")
	})
	return l
}

// finish stops the client and returns the committed transactions; calling it
// again only waits.
func (l *load) finish() map[string]string {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	return l.committed
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// entryFor is a record entry committing to made-up ciphertext (see entryJSON).
func entryFor(seed string) string {
	h := sha256.Sum256([]byte("ciphertext " + seed))
	b, _ := json.Marshal(map[string]string{
		"data_class": "lab-result", "fhir_resource_type": "Observation",
		"content_hash": base64.StdEncoding.EncodeToString(h[:]), "size": "4096",
		"storage_uri": fmt.Sprintf("vault://hospital/%x", h[:8]), "key_envelope": base64.StdEncoding.EncodeToString([]byte("wrapped key " + seed)),
		"key_epoch": "1",
	})
	return string(b)
}

// assertAllPresent checks that every committed transaction is in a block, and
// succeeded, on every node.
func assertAllPresent(t *testing.T, nodes []*network.Node, committed map[string]string) {
	t.Helper()
	for hash, what := range committed {
		for _, n := range nodes {
			found, ok := n.TxCommitted(hash)
			if !found || !ok {
				t.Fatalf("%s (tx %s), committed before, is missing on %s (found %v, ok %v)", what, hash, n.Name, found, ok)
			}
		}
	}
}

func waitForCatchUp(t *testing.T, lagging, leader *network.Node, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		lh, err1 := lagging.Height()
		th, err2 := leader.Height()
		if err1 == nil && err2 == nil && lh >= th {
			return time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s did not catch up with %s in %s; its log:\n%s", lagging.Name, leader.Name, timeout, lagging.LogTail(30))
	return 0
}

func heightOf(t *testing.T, n *network.Node) int64 {
	t.Helper()
	h, err := n.Height()
	if err != nil {
		t.Fatalf("%s: %v", n.Name, err)
	}
	return h
}

// TestConsortium runs a 4-validator network on loopback and, on it: the
// permissioned validator set, then faults — a validator killed under load, two
// stopped (halt, resume), one paused 30 s, all four killed at once — checking
// after each that every transaction the client saw committed is on every node
// and that all nodes agree on every block and app hash; then a fresh node
// joins by state sync and serves the same records and consents.
func TestConsortium(t *testing.T) {
	net := network.StartNetwork(t, network.NetworkOptions{
		Validators: 4, SnapshotInterval: 10,
		Genesis: map[string]any{"app_state": map[string]any{"gov": map[string]any{"params": map[string]any{
			"voting_period": "10s", "expedited_voting_period": "5s", "max_deposit_period": "10s",
		}}}},
	})
	n0, n1, n2, n3 := net.Nodes[0], net.Nodes[1], net.Nodes[2], net.Nodes[3]
	alice, hospital := n0.Address("alice"), n0.Address("hospital")
	n0.CLI("tx", "consent", "grant", hospital, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read,write",
		"--expires", "720h", "--from", "alice", "--yes")
	all := map[string]string{}
	keep := func(c map[string]string) {
		for k, v := range c {
			all[k] = v
		}
	}

	t.Run("only approved accounts run validators", func(t *testing.T) {
		testPermissionedValidators(t, net)
	})

	t.Run("break-glass decrypts with the keys of 2 of 3 custodians", func(t *testing.T) {
		testBreakGlassCustodians(t, net)
	})

	t.Run("kill -9 one validator under load", func(t *testing.T) {
		l := startLoad(t, n0, n1, "kill1")
		time.Sleep(4 * time.Second)
		n3.Kill()
		killedAt := heightOf(t, n0)
		// liveness, not speed: a height whose proposer is the dead node waits
		// for its propose timeout, and this machine is shared, so allow 60 s
		deadline := time.Now().Add(time.Minute)
		for heightOf(t, n0) < killedAt+3 {
			if time.Now().After(deadline) {
				t.Fatalf("with 3 of 4 validators the chain should go on: height %d → %d in 60 s", killedAt, heightOf(t, n0))
			}
			time.Sleep(500 * time.Millisecond)
		}
		n3.Start()
		took := waitForCatchUp(t, n3, n0, 2*time.Minute)
		committed := l.finish()
		keep(committed)
		n0.WaitForHeight(heightOf(t, n0)+1, 30*time.Second)
		assertAllPresent(t, net.Nodes, committed)
		h := net.AssertSameChain()
		t.Logf("killed node3 at height %d; it caught up in %s; %d txs committed (of %d sent) all on the 4 nodes; blocks 1-%d identical",
			killedAt, took.Round(100*time.Millisecond), len(committed), l.sent, h)
		if len(committed) < 5 {
			t.Fatalf("only %d transactions committed under load", len(committed))
		}
	})

	t.Run("2 of 4 stopped: the chain halts, then resumes", func(t *testing.T) {
		l := startLoad(t, n0, n1, "halt")
		time.Sleep(3 * time.Second)
		committedBefore := l.finish()
		keep(committedBefore)
		n2.Stop()
		n3.Stop()
		time.Sleep(2 * time.Second) // a block in flight may still finish
		haltedAt := heightOf(t, n0)
		time.Sleep(6 * time.Second)
		if h := heightOf(t, n0); h != haltedAt {
			t.Fatalf("with 2 of 4 validators the chain must not commit: height %d → %d", haltedAt, h)
		}
		if h1 := heightOf(t, n1); h1 != haltedAt {
			t.Fatalf("node1 at %d, node0 at %d while halted", h1, haltedAt)
		}
		n2.Start()
		n3.Start()
		n0.WaitForHeight(haltedAt+3, 2*time.Minute)
		waitForCatchUp(t, n3, n0, time.Minute)
		assertAllPresent(t, net.Nodes, committedBefore)
		h := net.AssertSameChain()
		t.Logf("halted at height %d for 6 s with no commit; resumed to %d; %d txs committed before the halt all present; blocks 1-%d identical",
			haltedAt, heightOf(t, n0), len(committedBefore), h)
	})

	t.Run("a validator paused 30 s catches up", func(t *testing.T) {
		n2.Pause()
		pausedAt := heightOf(t, n0)
		time.Sleep(30 * time.Second)
		n2.Resume()
		advanced := heightOf(t, n0) - pausedAt
		took := waitForCatchUp(t, n2, n0, 2*time.Minute)
		h := net.AssertSameChain()
		t.Logf("node2 paused at height %d for 30 s while the chain advanced %d blocks; caught up in %s; blocks 1-%d identical",
			pausedAt, advanced, took.Round(100*time.Millisecond), h)
		if advanced < 5 {
			t.Fatalf("the chain advanced only %d blocks in 30 s without one validator", advanced)
		}
	})

	t.Run("all four killed under load, then restarted", func(t *testing.T) {
		l := startLoad(t, n0, n1, "killall")
		time.Sleep(5 * time.Second)
		before := make([]int64, 4)
		for i, n := range net.Nodes {
			before[i] = heightOf(t, n)
		}
		for _, n := range net.Nodes {
			n.Kill()
		}
		committed := l.finish()
		keep(committed)
		for _, n := range net.Nodes {
			n.Start()
		}
		for i, n := range net.Nodes {
			n.WaitForHeight(before[i]+1, 2*time.Minute)
		}
		// every node, n0 included, must be past block sync: a block a
		// validator had in its WAL may still be committed after the restart
		synced := net.WaitInSync(2 * time.Minute)
		assertAllPresent(t, net.Nodes, all)
		h := net.AssertSameChain()
		t.Logf("killed all at heights %v; all in sync again at %d; %d txs of this load and %d in all present on every node; blocks 1-%d identical",
			before, synced, len(committed), len(all), h)
	})

	t.Run("a new node joins by state sync", func(t *testing.T) {
		testStateSyncJoin(t, net, alice)
	})

	t.Run("genesis export to a new network keeps every module's state", func(t *testing.T) {
		testExportToNewNetwork(t, net, alice)
	})
}

// testPermissionedValidators: an unapproved account cannot create a validator;
// once governance approves it, it can.
func testPermissionedValidators(t *testing.T, net *network.Network) {
	n0 := net.Nodes[0]
	newval := newFundedKey(t, n0, "newval")
	consHome := filepath.Join(t.TempDir(), "newval")
	// a consensus key of its own (a home the harness does not run)
	if out, err := exec.Command(n0.Binary, "init", "newval", "--home", consHome).CombinedOutput(); err != nil {
		t.Fatalf("init newval: %v %s", err, out)
	}
	pk, err := exec.Command(n0.Binary, "comet", "show-validator", "--home", consHome).Output()
	if err != nil {
		t.Fatal(err)
	}
	pubkey := strings.TrimSpace(string(pk))
	valFile := filepath.Join(t.TempDir(), "validator.json")
	if err := os.WriteFile(valFile, []byte(`{"pubkey": `+pubkey+`, "amount": "100000uhealth", "moniker": "newval",
		"commission-rate": "0.1", "commission-max-rate": "0.2", "commission-max-change-rate": "0.01", "min-self-delegation": "1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	res := n0.Exec("tx", "staking", "create-validator", valFile, "--from", "newval", "--yes")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, `(code 23, codespace "providers")`) ||
		!strings.Contains(res.Stderr, "the consortium must first approve the account") {
		t.Fatalf("an unapproved create-validator: exit %d, %s", res.ExitCode, res.Stderr)
	}

	// the consortium approves it: a governance proposal updating x/providers params
	var params struct {
		Params map[string]any `json:"params"`
	}
	if err := n0.GetJSON("/healthd/providers/v1/params", &params); err != nil {
		t.Fatal(err)
	}
	ops, _ := params.Params["validator_operators"].([]any)
	params.Params["validator_operators"] = append(ops, newval)
	passProposal(t, net, "Admit newval as a validator operator", "The consortium approves newval to run a validator.",
		map[string]any{"@type": "/healthd.providers.v1.MsgUpdateParams", "authority": govAuthority(t), "params": params.Params})
	n0.CLI("tx", "staking", "create-validator", valFile, "--from", "newval", "--yes")
	var v struct {
		Validators []struct {
			Description struct {
				Moniker string `json:"moniker"`
			} `json:"description"`
		} `json:"validators"`
	}
	if err := n0.GetJSON("/cosmos/staking/v1beta1/validators", &v); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, val := range v.Validators {
		found = found || val.Description.Moniker == "newval"
	}
	if !found || len(v.Validators) != 5 {
		t.Fatalf("validators after the approval: %+v", v.Validators)
	}
	// its consensus key has no node: with 100000uhealth against 4 × 500000000000 it
	// has no weight in consensus, and the chain goes on
	n0.WaitForHeight(heightOf(t, n0)+2, 30*time.Second)
}

// moduleState is what the chain holds for the healthd modules, as a client
// reads it over REST: providers, both patients' consents, alice's records and
// receipts.
func moduleState(t *testing.T, n *network.Node, alice, bob string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, path := range []string{
		"/healthd/providers/v1/providers",
		"/healthd/consent/v1/patients/" + alice + "/consents",
		"/healthd/consent/v1/patients/" + bob + "/consents",
		"/healthd/records/v1/patients/" + alice + "/records",
		"/healthd/records/v1/patients/" + alice + "/receipts",
	} {
		var v map[string]any
		if err := n.GetJSON(path+"?pagination.limit=100000", &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		delete(v, "pagination")
		out[path] = v
	}
	return out
}

func countItems(state map[string]any) map[string]int {
	counts := map[string]int{}
	for path, v := range state {
		for _, list := range v.(map[string]any) {
			if l, ok := list.([]any); ok {
				counts[path[strings.LastIndex(path, "/")+1:]] += len(l)
			}
		}
	}
	return counts
}

func testStateSyncJoin(t *testing.T, net *network.Network, alice string) {
	n0 := net.Nodes[0]
	bob := n0.Address("bob")
	// some receipts too, so that every kind of state is in the snapshot
	var recs struct {
		Records []recordView `json:"records"`
	}
	if err := n0.GetJSON("/healthd/records/v1/patients/"+alice+"/records?pagination.limit=1", &recs); err != nil || len(recs.Records) == 0 {
		t.Fatalf("records: %v", err)
	}
	n0.CLI("tx", "records", "access", recs.Records[0].ID, "TREAT", "--from", "hospital", "--yes")
	n0.WaitForHeight(heightOf(t, n0)+12, time.Minute) // past the next snapshot (every 10 blocks)
	start := time.Now()
	j := net.StartJoiner(t)
	took := time.Since(start)
	earliest, err := j.EarliestHeight()
	if err != nil {
		t.Fatal(err)
	}
	if earliest <= 1 {
		t.Fatalf("the joiner's earliest block is %d: it replayed the chain instead of state-syncing", earliest)
	}
	waitForCatchUp(t, j, n0, time.Minute)
	// compare at a height both have: wait one block, then read both
	want, got := moduleState(t, n0, alice, bob), moduleState(t, j, alice, bob)
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if string(wantJSON) != string(gotJSON) {
		t.Fatalf("the joiner serves other state:\n node0: %.2000s\njoiner: %.2000s", wantJSON, gotJSON)
	}
	t.Logf("a new node state-synced from height %d in %s and serves the same records, consents, receipts and providers (%v)",
		earliest, took.Round(100*time.Millisecond), countItems(got))
}

func testExportToNewNetwork(t *testing.T, net *network.Network, alice string) {
	n0 := net.Nodes[0]
	bob := n0.Address("bob")
	before := moduleState(t, n0, alice, bob)
	height := heightOf(t, n0)
	next, exported := net.RestartFromExport(t)
	for _, n := range next.Nodes {
		n.WaitForHeight(height+2, 2*time.Minute)
	}
	after := moduleState(t, next.Nodes[0], alice, bob)
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	if string(a) != string(b) {
		t.Fatalf("state differs after the export:\nbefore: %.2000s\n after: %.2000s", b, a)
	}
	// and a transaction works on the new network
	next.Nodes[0].CLI("tx", "records", "create", "TREAT", entryFor("after-export"), "--patient", alice, "--from", "hospital", "--yes")
	info, _ := os.Stat(exported)
	t.Logf("exported at height %d (%d bytes of genesis); the new 4-validator network went on from it with identical "+
		"providers, consents, records and receipts (%v)", height, info.Size(), countItems(after))
}
