package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/testutil/network"
	"github.com/healthd-chain/healthd/vault"
)

// TestVaultMigrateForeignUploader is finding (3) of issue #30 from the
// outside: bob plants alice's ciphertext in the store a vault is being
// migrated to, under his own key, before the migration reaches it. The blob
// has the right bytes and size, so a migration that only compares sizes
// keeps bob as its uploader and reports success, and the destination vault
// then refuses alice her own record (it serves a blob only to readers of the
// record its uploader committed) and, a day later, quarantines it. migrate
// must name the conflict and fail, and --repair-conflicts must give the blob
// back to alice, but only on the chain's word.
func TestVaultMigrateForeignUploader(t *testing.T) {
	// given alice's record in the source vault
	n := network.StartNode(t)
	src := network.StartVault(t, n)
	kr := []string{"--keyring-backend", "test"}
	alice, bob := n.Address("alice"), n.Address("bob")
	file := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(file, []byte(labResultFHIR), 0o600); err != nil {
		t.Fatal(err)
	}
	var put struct {
		RecordID    json.Number `json:"record_id"`
		ContentHash string      `json:"content_hash"`
	}
	n.CLIJSON(&put, append([]string{
		"records", "put", file, "--class", "lab-result", "--fhir-type", "Observation", "--vault", src.URL, "--from", "alice",
	}, kr...)...)
	h, err := vault.ParseHash(put.ContentHash)
	if err != nil {
		t.Fatalf("records put printed content hash %q: %v", put.ContentHash, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ciphertext := blobOf(ctx, t, src.Data, h)

	// and a vault on the destination directory, into which bob, holding a
	// copy of the ciphertext (a backup, a provider's cache), uploads it under
	// his own key: the vault takes it, the hash is right
	dstDir := filepath.Join(t.TempDir(), "destination")
	dst := network.StartVault(t, n, "--data", dstDir)
	keys := nodeKeyring(t, n.Home)
	bobClient := &vault.Client{BaseURL: dst.URL, Keyring: keys, UID: "bob", Address: bob}
	if err := bobClient.Put(ctx, h, bytes.NewReader(ciphertext), int64(len(ciphertext))); err != nil {
		t.Fatalf("bob's upload to the destination: %v", err)
	}
	aliceClient := &vault.Client{BaseURL: dst.URL, Keyring: keys, UID: "alice", Address: alice}
	var se *vault.StatusError
	if _, err := aliceClient.Get(ctx, h, io.Discard, 1<<20); !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Fatalf("alice's read of the planted blob: %v, want 403 (bob is its uploader)", err)
	}
	dst.Stop() // a disk destination must not be in use while migrating

	migrate := func(extra ...string) network.Result {
		t.Helper()
		return n.Exec(append([]string{"vault", "migrate", "--from", src.Data, "--to", dstDir}, extra...)...)
	}
	namesConflict := func(res network.Result) bool {
		out := res.Stdout + res.Stderr
		return strings.Contains(res.Stdout, "conflicts: 1") && strings.Contains(out, h.String()) &&
			strings.Contains(out, alice) && strings.Contains(out, bob)
	}

	t.Run("dry run names the foreign uploader and fails", func(t *testing.T) {
		// The operator's dry run must show the planted blob before anything is copied.
		res := migrate("--dry-run")
		if res.ExitCode == 0 || !namesConflict(res) {
			t.Fatalf("dry run: exit %d, want non-zero naming %s (alice %s, bob %s)\n%s%s", res.ExitCode, h, alice, bob, res.Stdout, res.Stderr)
		}
		t.Logf("dry run, exit %d:\n%s%s", res.ExitCode, res.Stdout, conflictLines(res.Stderr))
	})

	t.Run("migration does not keep the foreign uploader silently", func(t *testing.T) {
		// Without a repair, the planted blob must not count as migrated.
		res := migrate()
		if res.ExitCode == 0 || !namesConflict(res) || strings.Contains(res.Stdout, "already in "+dstDir+": 1") {
			t.Fatalf("migrate: exit %d, want non-zero naming the conflict, not counting it as present\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
		}
		if info := statBlob(ctx, t, dstDir, h); info.Uploader != bob {
			t.Fatalf("migrate without --repair-conflicts changed the destination's uploader to %s", info.Uploader)
		}
	})

	t.Run("repair without the chain changes nothing", func(t *testing.T) {
		// A repair must fail closed when the chain cannot vouch for alice.
		res := migrate("--repair-conflicts", "--chain-grpc", "127.0.0.1:1")
		if res.ExitCode == 0 || !namesConflict(res) {
			t.Fatalf("repair with no chain: exit %d, want non-zero\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
		}
		t.Logf("repair with no chain, exit %d:\n%s%s", res.ExitCode, res.Stdout, conflictLines(res.Stderr))
		if info := statBlob(ctx, t, dstDir, h); info.Uploader != bob {
			t.Fatalf("repair with no chain changed the destination's uploader to %s", info.Uploader)
		}
	})

	t.Run("repair on the chain's word gives the blob back to alice", func(t *testing.T) {
		// The chain names alice as the record's author: the destination takes the source's uploader and time.
		res := migrate("--repair-conflicts", "--chain-grpc", n.GRPC)
		if res.ExitCode != 0 || !namesConflict(res) || !strings.Contains(res.Stdout, "repaired 1") {
			t.Fatalf("repair: exit %d, want 0 and the conflict repaired\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
		}
		t.Logf("repair, exit %d:\n%s%s", res.ExitCode, res.Stdout, conflictLines(res.Stderr))
		want := statBlob(ctx, t, src.Data, h)
		if got := statBlob(ctx, t, dstDir, h); got.Uploader != alice || !got.UploadedAt.Equal(want.UploadedAt) {
			t.Fatalf("after the repair the destination holds %+v, the source %+v", got, want)
		}
		if res := migrate(); res.ExitCode != 0 || !strings.Contains(res.Stdout, "already in "+dstDir+": 1") {
			t.Fatalf("a migration after the repair: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
		}

		dst.Restart()
		out := filepath.Join(t.TempDir(), "read.json")
		n.CLI(append([]string{
			"records", "get", put.RecordID.String(), "--purpose", "PATRQT", "--vault", dst.URL, "--out", out, "--from", "alice",
		}, kr...)...)
		if got, _ := os.ReadFile(out); string(got) != labResultFHIR {
			t.Fatalf("alice read %q through the destination vault", got)
		}
	})
}

// conflictLines keeps the conflict lines of migrate's stderr (not its progress).
func conflictLines(stderr string) string {
	var out strings.Builder
	for line := range strings.Lines(stderr) {
		if strings.Contains(line, ": conflict: ") {
			out.WriteString(line)
		}
	}
	return out.String()
}

// blobOf reads blob h from the disk store in dir (read-only: its vault may be running).
func blobOf(ctx context.Context, t *testing.T, dir string, h vault.Hash) []byte {
	t.Helper()
	store, err := vault.OpenDiskStoreReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := store.Get(ctx, h)
	if err != nil {
		t.Fatalf("blob %s in %s: %v", h, dir, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// statBlob reads blob h's metadata from the disk store in dir.
func statBlob(ctx context.Context, t *testing.T, dir string, h vault.Hash) vault.BlobInfo {
	t.Helper()
	store, err := vault.OpenDiskStoreReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := store.Stat(ctx, h)
	if err != nil {
		t.Fatalf("blob %s in %s: %v", h, dir, err)
	}
	return info
}
