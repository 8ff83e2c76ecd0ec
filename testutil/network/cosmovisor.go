package network

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	cosmovisorOnce sync.Once
	cosmovisorPath string
	cosmovisorErr  error
)

// CosmovisorBinary returns the path of the pinned cosmovisor, built once with
// scripts/install-cosmovisor.sh (cached across runs).
func CosmovisorBinary(t testing.TB) string {
	t.Helper()
	cosmovisorOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			cosmovisorErr = err
			return
		}
		cmd := exec.Command("bash", filepath.Join(root, "scripts", "install-cosmovisor.sh"))
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			cosmovisorErr = fmt.Errorf("%w: %s", err, stderr.String())
			return
		}
		cosmovisorPath = strings.TrimSpace(string(out))
	})
	if cosmovisorErr != nil {
		t.Fatalf("scripts/install-cosmovisor.sh: %v", cosmovisorErr)
	}
	return cosmovisorPath
}

// cosmovisorEnv is the environment cosmovisor reads its settings from: the
// node's home, the daemon's name, restart after an upgrade, no download of
// binaries (they are placed beforehand), and no data backup before the
// upgrade (a test network is thrown away; docs/operations.md tells operators
// to keep it).
func (n *Node) cosmovisorEnv() []string {
	return []string{
		"DAEMON_HOME=" + n.Home,
		"DAEMON_NAME=healthd",
		"DAEMON_RESTART_AFTER_UPGRADE=true",
		"DAEMON_ALLOW_DOWNLOAD_BINARIES=false",
		"DAEMON_POLL_INTERVAL=300ms",
		"UNSAFE_SKIP_BACKUP=true",
		"COSMOVISOR_COLOR_LOGS=false",
	}
}

// UseCosmovisor makes the node run under cosmovisor from its next Start:
// `cosmovisor init` installs the node's current Binary as the genesis binary,
// and `cosmovisor add-upgrade NAME BIN` places each upgrade's binary, as an
// operator does before the upgrade height.
func (n *Node) UseCosmovisor(cosmovisor string, upgrades map[string]string) {
	n.t.Helper()
	n.Cosmovisor = cosmovisor
	n.cosmovisorCLI("init", n.Binary)
	for name, bin := range upgrades {
		n.cosmovisorCLI("add-upgrade", name, bin)
	}
}

func (n *Node) cosmovisorCLI(args ...string) {
	n.t.Helper()
	cmd := exec.Command(n.Cosmovisor, args...)
	cmd.Env = append(cmd.Environ(), n.cosmovisorEnv()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		n.t.Fatalf("cosmovisor %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
