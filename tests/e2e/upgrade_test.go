package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/app"
	"github.com/healthd-chain/healthd/testutil/network"
)

// lineageView is a record as REST serves it, with the fields upgrade v2 adds.
type lineageView struct {
	ID      string `json:"id"`
	RootID  string `json:"root_id"`
	Version string `json:"version"`
}

// TestUpgradeWithCosmovisor runs the consortium's first software upgrade as
// operators would: four validators start on the release before v2 (this tree
// built with the tag healthd_prev), three of them under cosmovisor with the v2
// binary placed beforehand, the fourth run by hand without it. With records,
// an amendment chain, consents and a receipt in state, a governance proposal
// MsgSoftwareUpgrade passes; every node halts at the upgrade height;
// cosmovisor swaps the binaries and the x/records 1 -> 2 migration fills
// root_id and version; blocks go on. The hand-run node refuses to pass the
// height with the old binary, even when restarted, and joins once given the
// new one; a node started on the old binary after the upgrade refuses too.
// Every pre-upgrade record, consent and receipt is still served, and all four
// nodes agree on every block and app hash.
func TestUpgradeWithCosmovisor(t *testing.T) {
	oldBin := network.BuildTags(t, "./cmd/healthd", "healthd_prev")
	newBin := network.Binary(t)
	cosmovisor := network.CosmovisorBinary(t)
	net := network.StartNetwork(t, network.NetworkOptions{
		Validators: 4, Binary: oldBin,
		Genesis: map[string]any{"app_state": map[string]any{"gov": map[string]any{"params": map[string]any{
			"voting_period": "10s", "expedited_voting_period": "5s", "max_deposit_period": "10s",
		}}}},
		BeforeStart: func(i int, n *network.Node) {
			if i < 3 {
				n.UseCosmovisor(cosmovisor, map[string]string{app.UpgradeV2: newBin})
			}
		},
	})
	n0, n2, n3 := net.Nodes[0], net.Nodes[2], net.Nodes[3]
	alice, bob, hospital, lab := n0.Address("alice"), n0.Address("bob"), n0.Address("hospital"), n0.Address("lab")

	// state written by the old release: records 1-3, record 1 amended twice
	// (4, then 5), consents, and a receipt
	n0.CLI("tx", "consent", "grant", hospital, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read,write",
		"--expires", "720h", "--from", "alice", "--yes")
	n0.CLI("tx", "consent", "grant", lab, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read",
		"--expires", "720h", "--from", "alice", "--yes")
	n0.CLI("tx", "records", "create", "TREAT", entryFor("up-1"), entryFor("up-2"), entryFor("up-3"), "--patient", alice, "--from", "hospital", "--yes")
	n0.CLI("tx", "records", "amend", "1", "TREAT", entryFor("up-1b"), "--from", "hospital", "--yes")
	n0.CLI("tx", "records", "amend", "4", "TREAT", entryFor("up-1c"), "--from", "hospital", "--yes")
	n0.CLI("tx", "records", "access", "2", "TREAT", "--from", "lab", "--yes")
	if v := moduleVersion(t, n0, "records"); v != "1" {
		t.Fatalf("x/records runs layout version %s before the upgrade, want 1", v)
	}
	for _, r := range lineage(t, n0, alice) {
		if r.RootID != "0" && r.RootID != "" || r.Version != "0" && r.Version != "" {
			t.Fatalf("the old release wrote record %s with root_id %q version %q", r.ID, r.RootID, r.Version)
		}
	}
	before := moduleState(t, n0, alice, bob)
	counts := countItems(before)
	if counts["records"] != 5 || counts["receipts"] != 1 || counts["consents"] < 2 {
		t.Fatalf("state before the upgrade: %v", counts)
	}

	// the proposal, voted by all four validators
	height := heightOf(t, n0)
	upgradeHeight := height + 40
	id := passProposal(t, net, "Upgrade to healthd v2", "x/records layout 2: every record gets root_id and version.",
		map[string]any{
			"@type": "/cosmos.upgrade.v1beta1.MsgSoftwareUpgrade", "authority": govAuthority(t),
			"plan": map[string]any{"name": app.UpgradeV2, "height": strconv.FormatInt(upgradeHeight, 10), "info": ""},
		})
	var plan struct {
		Plan struct {
			Name   string `json:"name"`
			Height string `json:"height"`
		} `json:"plan"`
	}
	if err := n0.GetJSON("/cosmos/upgrade/v1beta1/current_plan", &plan); err != nil || plan.Plan.Name != app.UpgradeV2 {
		t.Fatalf("current plan after the vote: %+v %v", plan, err)
	}
	if h := heightOf(t, n0); h >= upgradeHeight-2 {
		t.Fatalf("the proposal passed at height %d, too close to the upgrade height %d: raise the margin", h, upgradeHeight)
	}
	t.Logf("proposal %s passed; upgrade %q at height %d", id, app.UpgradeV2, upgradeHeight)

	// the hand-run node halts at the height with a clear message, and refuses
	// again when restarted on the same binary
	needed := fmt.Sprintf("UPGRADE \"%s\" NEEDED at height: %d", app.UpgradeV2, upgradeHeight)
	waitLog(t, n3, 3*time.Minute, needed)
	n3.Stop()
	n3.Start() // block H is in its block store now: the handshake replays it, and stops
	waitLog(t, n3, 2*time.Minute, "error during handshake", needed)
	waitExit(t, n3, time.Minute)

	// the three cosmovisor nodes switched and went on
	for _, n := range net.Nodes[:3] {
		n.WaitForHeight(upgradeHeight+3, 3*time.Minute)
		if !n.LogContains(fmt.Sprintf("applying upgrade \"%s\" at height: %d", app.UpgradeV2, upgradeHeight)) {
			t.Fatalf("%s: no 'applying upgrade' in its log:\n%s", n.Name, n.LogTail(40))
		}
		if !n.LogContains("x/records migration 1 -> 2", "records=5") {
			t.Fatalf("%s: the x/records migration did not log 5 records:\n%s", n.Name, n.LogTail(40))
		}
		current, err := os.Readlink(filepath.Join(n.Home, "cosmovisor", "current"))
		if err != nil || filepath.Base(current) != app.UpgradeV2 {
			t.Fatalf("%s: cosmovisor/current -> %q (%v), want upgrades/%s", n.Name, current, err, app.UpgradeV2)
		}
	}
	// the operator of the fourth node installs the new binary by hand
	n3.Stop()
	for _, n := range net.Nodes {
		n.Binary = newBin
	}
	n3.Start()
	waitForCatchUp(t, n3, n0, 2*time.Minute)

	// what the chain serves after the upgrade
	if v := moduleVersion(t, n0, "records"); v != "2" {
		t.Fatalf("x/records runs layout version %s after the upgrade, want 2", v)
	}
	var applied struct {
		Height string `json:"height"`
	}
	if err := n0.GetJSON("/cosmos/upgrade/v1beta1/applied_plan/"+app.UpgradeV2, &applied); err != nil || applied.Height != strconv.FormatInt(upgradeHeight, 10) {
		t.Fatalf("applied plan: %+v %v", applied, err)
	}
	wantLineage := map[string][2]string{"1": {"1", "1"}, "2": {"2", "1"}, "3": {"3", "1"}, "4": {"1", "2"}, "5": {"1", "3"}}
	for _, n := range net.Nodes {
		for _, r := range lineage(t, n, alice) {
			if w := wantLineage[r.ID]; r.RootID != w[0] || r.Version != w[1] {
				t.Fatalf("%s: record %s after the migration: root_id %s version %s, want %v", n.Name, r.ID, r.RootID, r.Version, w)
			}
		}
	}
	after := moduleState(t, n0, alice, bob)
	if b, a := stripLineage(t, before), stripLineage(t, after); b != a {
		t.Fatalf("the upgrade changed more than root_id and version:\nbefore: %.3000s\n after: %.3000s", b, a)
	}
	// the new release writes lineage itself
	n0.CLI("tx", "records", "amend", "5", "TREAT", entryFor("up-1d"), "--from", "hospital", "--yes")
	n0.CLI("tx", "records", "create", "TREAT", entryFor("up-4"), "--patient", alice, "--from", "hospital", "--yes")
	wantLineage["6"], wantLineage["7"] = [2]string{"1", "4"}, [2]string{"7", "1"}
	for _, r := range lineage(t, n0, alice) {
		if w := wantLineage[r.ID]; r.RootID != w[0] || r.Version != w[1] {
			t.Fatalf("record %s written after the upgrade: root_id %s version %s, want %v", r.ID, r.RootID, r.Version, w)
		}
	}

	// a node started on the old binary after the upgrade refuses to run
	n2.Stop()
	cv := n2.Cosmovisor
	n2.Cosmovisor, n2.Binary = "", oldBin
	n2.Start()
	waitLog(t, n2, 2*time.Minute, "upgrade handler is missing for "+app.UpgradeV2+" upgrade plan")
	// its consensus stopped at the first block it tried: the other three go on
	// without it, and it commits nothing
	stuck := heightOf(t, n2)
	n0.WaitForHeight(heightOf(t, n0)+3, time.Minute)
	if h := heightOf(t, n2); h != stuck {
		t.Fatalf("the old binary went on from height %d to %d after the upgrade", stuck, h)
	}
	n2.Stop()
	n2.Cosmovisor, n2.Binary = cv, newBin
	n2.Start()
	waitForCatchUp(t, n2, n0, 2*time.Minute)

	last := net.WaitInSync(time.Minute)
	checked := net.AssertSameChain()
	// a header's app hash is the state after the block before it: the one at
	// H+1 is the first with the migration in it
	for _, h := range []int64{upgradeHeight, upgradeHeight + 1, last} {
		b, err := n0.BlockAt(h)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("header %d: app hash %s on all 4 nodes", h, b.AppHash)
	}
	t.Logf("all 4 nodes agree on every block and app hash up to height %d", checked)
}

// moduleVersion is a module's state layout version as x/upgrade records it.
func moduleVersion(t *testing.T, n *network.Node, module string) string {
	t.Helper()
	var resp struct {
		ModuleVersions []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"module_versions"`
	}
	if err := n.GetJSON("/cosmos/upgrade/v1beta1/module_versions?module_name="+module, &resp); err != nil || len(resp.ModuleVersions) != 1 {
		t.Fatalf("module version of %s: %+v %v", module, resp, err)
	}
	return resp.ModuleVersions[0].Version
}

// lineage lists a patient's records with root_id and version.
func lineage(t *testing.T, n *network.Node, patient string) []lineageView {
	t.Helper()
	var resp struct {
		Records []lineageView `json:"records"`
	}
	if err := n.GetJSON("/healthd/records/v1/patients/"+patient+"/records?pagination.limit=1000", &resp); err != nil {
		t.Fatalf("%s: records: %v", n.Name, err)
	}
	return resp.Records
}

// stripLineage is the module state as JSON without the fields upgrade v2 adds.
func stripLineage(t *testing.T, state map[string]any) string {
	t.Helper()
	raw, _ := json.Marshal(state)
	var copied map[string]any
	if err := json.Unmarshal(raw, &copied); err != nil {
		t.Fatal(err)
	}
	for _, v := range copied {
		records, _ := v.(map[string]any)["records"].([]any)
		for _, r := range records {
			delete(r.(map[string]any), "root_id")
			delete(r.(map[string]any), "version")
		}
	}
	out, _ := json.Marshal(copied)
	return string(out)
}

// waitLog waits until a line of the node's current log contains every part.
func waitLog(t *testing.T, n *network.Node, timeout time.Duration, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !n.LogContains(parts...) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no log line with %q within %s:\n%s", n.Name, strings.Join(parts, " … "), timeout, n.LogTail(30))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitExit waits until the node's process has exited by itself.
func waitExit(t *testing.T, n *network.Node, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for n.Running() {
		if time.Now().After(deadline) {
			t.Fatalf("%s still runs %s after refusing:\n%s", n.Name, timeout, n.LogTail(20))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
