package network

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/healthd-chain/healthd/internal/localnet"
	"github.com/healthd-chain/healthd/internal/proc"
)

// SeaweedFS is a running SeaweedFS on loopback, for the vault's object-store
// tests: one `weed server -s3` (master, volume server, filer and S3 gateway in
// one process), or a cluster of separate processes (StartSeaweedFSCluster).
// Its S3 gateway accepts any credentials (no identities configured).
type SeaweedFS struct {
	S3 string // host:port of the S3 gateway
	t  testing.TB
	// the processes, in start order (a cluster: master, volume servers, filer
	// with the S3 gateway)
	parts   []*weedPart
	volumes []int // indexes of the volume servers in parts
}

type weedPart struct {
	name string
	args []string
	log  string
	p    *proc.Proc
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
	ports, err := localnet.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := &SeaweedFS{S3: fmt.Sprintf("127.0.0.1:%d", ports[3]), t: t}
	s.parts = []*weedPart{{name: "server", log: filepath.Join(dir, "weed.log"), args: []string{
		"server", "-dir", dir, "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1",
		"-master.port", fmt.Sprint(ports[0]), "-volume.port", fmt.Sprint(ports[1]),
		"-filer", "-filer.port", fmt.Sprint(ports[2]), "-s3", "-s3.port", fmt.Sprint(ports[3]),
		"-master.volumeSizeLimitMB", "64", "-volume.max", "64",
	}}}
	s.start()
	return s
}

// StartSeaweedFSCluster starts a SeaweedFS of separate processes: a master
// whose volumes are replicated as replication says (e.g. "001": one more copy
// on another server of the same rack), volumes volume servers, and a filer
// with the S3 gateway. It waits until the gateway answers.
func StartSeaweedFSCluster(t testing.TB, volumes int, replication string) *SeaweedFS {
	t.Helper()
	ports, err := localnet.FreePorts(3 + volumes)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	master := fmt.Sprintf("127.0.0.1:%d", ports[0])
	s := &SeaweedFS{S3: fmt.Sprintf("127.0.0.1:%d", ports[2]), t: t}
	mdir := filepath.Join(dir, "master")
	s.parts = append(s.parts, &weedPart{name: "master", log: filepath.Join(dir, "master.log"), args: []string{
		"master", "-mdir", mkdir(t, mdir), "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1", "-port", fmt.Sprint(ports[0]),
		"-defaultReplication", replication, "-volumeSizeLimitMB", "64",
	}})
	for i := range volumes {
		vdir := filepath.Join(dir, fmt.Sprintf("volume-%d", i))
		s.volumes = append(s.volumes, len(s.parts))
		s.parts = append(s.parts, &weedPart{name: fmt.Sprintf("volume-%d", i), log: vdir + ".log", args: []string{
			"volume", "-dir", mkdir(t, vdir), "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1", "-port", fmt.Sprint(ports[3+i]),
			"-master", master, "-max", "64",
		}})
	}
	fdir := filepath.Join(dir, "filer")
	s.parts = append(s.parts, &weedPart{name: "filer", log: filepath.Join(dir, "filer.log"), args: []string{
		"filer", "-defaultStoreDir", mkdir(t, fdir), "-ip", "127.0.0.1", "-ip.bind", "127.0.0.1", "-port", fmt.Sprint(ports[1]),
		"-master", master, "-s3", "-s3.port", fmt.Sprint(ports[2]), "-s3.port.iceberg", "0", "-s3.port.lance", "0",
	}})
	s.start()
	return s
}

func mkdir(t testing.TB, dir string) string {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// start starts every part that is not running and waits for the gateway.
func (s *SeaweedFS) start() {
	s.t.Helper()
	bin := Weed(s.t)
	for _, part := range s.parts {
		if part.p != nil && part.p.Running() {
			continue
		}
		fresh := part.p == nil
		p, err := proc.Start(bin, part.args, part.log)
		if err != nil {
			s.t.Fatal(err)
		}
		part.p = p
		if fresh {
			s.t.Cleanup(func() {
				part.p.Stop(stopGrace)
				if s.t.Failed() {
					s.t.Logf("last lines of the SeaweedFS %s log:\n%s", part.name, tail(part.p.LogPath(), 30))
				}
			})
		}
		time.Sleep(200 * time.Millisecond) // let a master listen before its servers dial it
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	last := s.parts[len(s.parts)-1].p
	for {
		if c, err := net.DialTimeout("tcp", s.S3, time.Second); err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("SeaweedFS's S3 gateway did not answer in 2 minutes; log:\n%s", tail(last.LogPath(), 30))
		case <-last.Exited():
			s.t.Fatalf("SeaweedFS exited: %v; log:\n%s", last.Err(), tail(last.LogPath(), 30))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Kill kills every process of it with SIGKILL: the store is down.
func (s *SeaweedFS) Kill() {
	for _, part := range s.parts {
		part.p.Kill()
	}
}

// Restart starts again what Kill stopped, on the same data and ports.
func (s *SeaweedFS) Restart() { s.start() }

// KillVolume kills volume server i of a cluster with SIGKILL.
func (s *SeaweedFS) KillVolume(i int) { s.parts[s.volumes[i]].p.Kill() }

// Client returns a client of the S3 gateway.
func (s *SeaweedFS) Client() *minio.Client {
	s.t.Helper()
	c, err := minio.New(s.S3, &minio.Options{Creds: credentials.NewStaticV4("any", "any", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// MakeBucket creates a bucket (the gateway may take a moment to accept bucket
// operations after it listens) and returns a client of the gateway.
func (s *SeaweedFS) MakeBucket(bucket string) *minio.Client {
	s.t.Helper()
	c := s.Client()
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		err = c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{})
		if err == nil {
			return c
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("create bucket %s: %v", bucket, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Flags are the `healthd vault start` flags of a vault on bucket/prefix of
// this store (credentials come from the environment: see SetCredentials).
func (s *SeaweedFS) Flags(bucket, prefix string) []string {
	return []string{"--store", "s3", "--s3-endpoint", s.S3, "--s3-bucket", bucket, "--s3-prefix", prefix, "--s3-tls=false"}
}

// SetCredentials sets the environment variables a vault reads its S3
// credentials from (any will do for a SeaweedFS without identities).
func SetCredentials(t testing.TB) {
	t.Setenv("HEALTHD_S3_ACCESS_KEY", "any")
	t.Setenv("HEALTHD_S3_SECRET_KEY", "any")
}

// VaultStoreFlags returns the `vault start` flags of the store that
// $HEALTHD_TEST_VAULT_STORE names for tests that can run on either backend:
// none for "" or "disk" (the disk store under --data); for "s3", a bucket of a
// SeaweedFS started for the test, credentials in a file.
func VaultStoreFlags(t testing.TB) []string {
	t.Helper()
	switch kind := os.Getenv("HEALTHD_TEST_VAULT_STORE"); kind {
	case "", "disk":
		return nil
	case "s3":
		sw := StartSeaweedFS(t)
		sw.MakeBucket("vault")
		creds := filepath.Join(t.TempDir(), "s3-credentials")
		if err := os.WriteFile(creds, []byte("any\nany\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return append(sw.Flags("vault", "test/"), "--s3-credentials-file", creds)
	default:
		t.Fatalf("HEALTHD_TEST_VAULT_STORE=%s: want disk or s3", kind)
		return nil
	}
}
