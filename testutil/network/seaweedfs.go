package network

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/internal/localnet"
	"github.com/healthd-chain/healthd/internal/proc"
)

// SeaweedFS is a running SeaweedFS (`weed server -s3`: master, volume server,
// filer and S3 gateway in one process) on loopback, for the vault's
// object-store tests. Its S3 gateway accepts any credentials (no identities
// configured).
type SeaweedFS struct {
	S3 string // host:port of the S3 gateway
	p  *proc.Proc
}

var (
	weedOnce sync.Once
	weedPath string
	weedErr  error
)

// Weed returns the path of the pinned SeaweedFS binary, building it once with
// scripts/install-seaweedfs.sh (cached across runs; the first build takes
// several minutes).
func Weed(t testing.TB) string {
	t.Helper()
	weedOnce.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			weedErr = err
			return
		}
		out, err := exec.Command("bash", filepath.Join(root, "scripts", "install-seaweedfs.sh")).Output()
		if err != nil {
			weedErr = fmt.Errorf("scripts/install-seaweedfs.sh: %w", err)
			return
		}
		weedPath = strings.TrimSpace(string(out))
	})
	if weedErr != nil {
		t.Fatal(weedErr)
	}
	return weedPath
}

// StartSeaweedFS starts a SeaweedFS server with its data in a temporary
// folder and waits until its S3 gateway answers. It is stopped when the test
// ends.
func StartSeaweedFS(t testing.TB) *SeaweedFS {
	t.Helper()
	bin := Weed(t)
	ports, err := localnet.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := proc.Start(bin, []string{
		"server", "-dir", dir, "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1",
		"-master.port", fmt.Sprint(ports[0]), "-volume.port", fmt.Sprint(ports[1]),
		"-filer", "-filer.port", fmt.Sprint(ports[2]), "-s3", "-s3.port", fmt.Sprint(ports[3]),
		"-master.volumeSizeLimitMB", "64", "-volume.max", "8",
	}, filepath.Join(dir, "weed.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &SeaweedFS{S3: fmt.Sprintf("127.0.0.1:%d", ports[3]), p: p}
	t.Cleanup(func() {
		p.Stop(stopGrace)
		if t.Failed() {
			t.Logf("last lines of the SeaweedFS log:\n%s", tail(p.LogPath(), 30))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		if c, err := net.DialTimeout("tcp", s.S3, time.Second); err == nil {
			_ = c.Close()
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("SeaweedFS's S3 gateway did not answer in 2 minutes; log:\n%s", tail(p.LogPath(), 30))
		case <-p.Exited():
			t.Fatalf("SeaweedFS exited: %v; log:\n%s", p.Err(), tail(p.LogPath(), 30))
		case <-time.After(300 * time.Millisecond):
		}
	}
}
