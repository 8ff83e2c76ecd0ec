package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthd-chain/healthd/testutil/network"
)

// TestLocalnetCommandNeverClobbersAnExistingChain drives the command behind
// `make localnet` / `make localnet-reset` (without starting the node).
func TestLocalnetCommandNeverClobbersAnExistingChain(t *testing.T) {
	healthd := network.Binary(t)
	localnetBin := network.Build(t, "./cmd/localnet")
	root, err := network.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	config := filepath.Join(dir, "config.yml")
	orig, err := os.ReadFile(filepath.Join(root, "config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(localnetBin, append([]string{"-config", config, "-home", home, "-binary", healthd}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	genesisPath := filepath.Join(home, "config", "genesis.json")

	// given a localnet home built from config.yml
	out, err := run("init")
	if err != nil || !strings.Contains(out, "building a new local chain healthd-local-1") {
		t.Fatalf("first init: %v\n%s", err, out)
	}
	genesis, err := os.ReadFile(genesisPath)
	if err != nil {
		t.Fatal(err)
	}

	// when it is run again, it resumes and leaves the home as it was
	out, err = run("init")
	if err != nil || !strings.Contains(out, "resuming the local chain healthd-local-1") {
		t.Fatalf("second init: %v\n%s", err, out)
	}
	if again, _ := os.ReadFile(genesisPath); string(again) != string(genesis) {
		t.Fatal("a second run changed genesis.json")
	}

	// when config.yml changes, it still resumes, and says how to apply the change
	if err := os.WriteFile(config, append(orig, []byte("\n# changed\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run("init")
	if err != nil || !strings.Contains(out, "changed since this chain was created") {
		t.Fatalf("init after a config change: %v\n%s", err, out)
	}

	// when a home exists that localnet did not finish building, it is refused and left alone
	if err := os.Remove(filepath.Join(home, "localnet.json")); err != nil {
		t.Fatal(err)
	}
	out, err = run("init")
	if err == nil || !strings.Contains(out, "was not completely built by localnet") {
		t.Fatalf("init over an unfinished home: %v\n%s", err, out)
	}
	if again, _ := os.ReadFile(genesisPath); string(again) != string(genesis) {
		t.Fatal("a refused run changed genesis.json")
	}

	// when reset is asked for, the home is deleted and built again
	out, err = run("-reset", "init")
	if err != nil || !strings.Contains(out, "building a new local chain") {
		t.Fatalf("reset init: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(home, "localnet.json")); err != nil {
		t.Fatalf("no marker after a reset: %v", err)
	}
}
