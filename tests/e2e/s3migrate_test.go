package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/testutil/network"
	"github.com/healthd-chain/healthd/vault"
)

// TestVaultMigrateDiskToSeaweedFS: a hospital's disk vault is migrated to a
// SeaweedFS bucket while the chain and the vault keep running (a dry run
// first, then the copy, then the uploads of the meantime after the vault is
// stopped); two S3 replicas then serve every record, which the patient
// exports byte-equal (the client checks every hash); and the bucket migrates
// back to a directory.
func TestVaultMigrateDiskToSeaweedFS(t *testing.T) {
	n := network.StartNode(t)
	disk := network.StartVault(t, n)
	alice := n.Address("alice")
	const resources = 60
	raw, err := fhir.SyntheticBundle(resources, 7)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(bundle, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Entry []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &parsed); err != nil {
		t.Fatal(err)
	}
	want := make([]map[string]any, len(parsed.Entry))
	for i, e := range parsed.Entry {
		want[i] = e.Resource
	}
	kr := []string{"--keyring-backend", "test"}
	n.CLI(append([]string{
		"consent", "grant", n.Address("hospital"), "--classes",
		"other,vital-signs,lab-result,diagnosis,prescription,procedure,immunization,allergy,clinical-note",
		"--permissions", "read,write", "--expires", "24h", "--from", "alice",
	}, kr...)...)
	n.CLI(append([]string{"fhir", "import", bundle, "--patient", alice, "--vault", disk.URL, "--from", "hospital"}, kr...)...)

	sw := network.StartSeaweedFS(t)
	sw.MakeBucket("vault")
	network.SetCredentials(t)
	migrate := func(from, to string, extra ...string) string {
		t.Helper()
		args := append([]string{"vault", "migrate", "--from", from, "--to", to, "--s3-endpoint", sw.S3, "--s3-tls=false"}, extra...)
		res := n.Exec(args...)
		if res.ExitCode != 0 {
			t.Fatalf("healthd %s: exit %d\n%s%s", strings.Join(args, " "), res.ExitCode, res.Stdout, res.Stderr)
		}
		return res.Stdout
	}
	bucket := "s3://vault/migrated/"

	// a dry run says what it would copy and copies nothing
	out := migrate(disk.Data, bucket, "--dry-run")
	if !strings.Contains(out, fmt.Sprintf("%d blobs", resources)) || !strings.Contains(out, fmt.Sprintf("to copy %d", resources)) {
		t.Fatalf("dry run: %s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	store := s3StoreOf(ctx, t, sw, "migrated/")
	if listed := countBlobs(ctx, t, store); listed != 0 {
		t.Fatalf("a dry run copied %d blobs", listed)
	}

	// the copy, with the vault still serving; then a record filed meanwhile
	out = migrate(disk.Data, bucket)
	if !strings.Contains(out, fmt.Sprintf("copied %d", resources)) || !strings.Contains(out, "failed: 0") {
		t.Fatalf("migrate: %s", out)
	}
	file := filepath.Join(t.TempDir(), "late.json")
	if err := os.WriteFile(file, []byte(labResultFHIR), 0o600); err != nil {
		t.Fatal(err)
	}
	var late struct {
		RecordID json.Number `json:"record_id"`
	}
	n.CLIJSON(&late, append([]string{
		"records", "put", file, "--patient", alice, "--class", "lab-result", "--fhir-type", "Observation",
		"--vault", disk.URL, "--from", "hospital",
	}, kr...)...)
	disk.Stop()
	out = migrate(disk.Data, bucket) // resumes: only the late one
	if !strings.Contains(out, "copied 1 ") || !strings.Contains(out, fmt.Sprintf(": %d;", resources)) {
		t.Fatalf("second migrate: %s", out)
	}

	// the usage counters count what was copied; one made wrong (as a replica
	// killed between storing and counting leaves it) is set right by recount
	hospital := n.Address("hospital")
	var sum int64
	if err := store.List(ctx, func(b vault.BlobInfo) error {
		if b.Uploader == hospital {
			sum += b.Size
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if used, err := store.Usage(ctx, hospital); err != nil || used != sum {
		t.Fatalf("after the migration the hospital's counter is %d (%v), its blobs %d bytes", used, err, sum)
	}
	if _, err := sw.Client().PutObject(ctx, "vault", "migrated/usage/"+hex.EncodeToString([]byte(hospital)),
		strings.NewReader(`{"bytes":1}`), 11, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	res := n.Exec("vault", "recount", bucket, "--s3-endpoint", sw.S3, "--s3-tls=false")
	if res.ExitCode != 0 || !strings.Contains(res.Stdout, "1 counters corrected") {
		t.Fatalf("recount: exit %d, %s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	if used, err := store.Usage(ctx, hospital); err != nil || used != sum {
		t.Fatalf("after recount the hospital's counter is %d (%v), want %d", used, err, sum)
	}

	// two replicas on the bucket serve everything
	r1 := network.StartVault(t, n, append(sw.Flags("vault", "migrated/"), "--data", filepath.Join(t.TempDir(), "r1"))...)
	r2 := network.StartVault(t, n, append(sw.Flags("vault", "migrated/"), "--data", filepath.Join(t.TempDir(), "r2"))...)
	exported := filepath.Join(t.TempDir(), "export.json")
	var exp struct {
		Exported int `json:"exported"`
	}
	n.CLIJSON(&exp, append([]string{"fhir", "export", "--vault", r1.URL, "--out", exported, "--from", "alice"}, kr...)...)
	if exp.Exported != resources+1 {
		t.Fatalf("exported %d of %d records from the S3 replica", exp.Exported, resources+1)
	}
	assertSameResources(t, exported, n.Address("alice"), append(want, func() map[string]any {
		var m map[string]any
		_ = json.Unmarshal([]byte(labResultFHIR), &m)
		return m
	}()))
	got := filepath.Join(t.TempDir(), "late-read.json")
	n.CLI(append([]string{"records", "get", late.RecordID.String(), "--purpose", "PATRQT", "--vault", r2.URL, "--out", got, "--from", "alice"}, kr...)...)
	if b, _ := os.ReadFile(got); string(b) != labResultFHIR {
		t.Fatalf("the late record through the other replica: %q", b)
	}

	// and back: the bucket to a fresh directory, every blob hash-checked
	back := filepath.Join(t.TempDir(), "restored")
	out = migrate(bucket, back)
	if !strings.Contains(out, fmt.Sprintf("copied %d", resources+1)) {
		t.Fatalf("migrate back: %s", out)
	}
	restored, err := vault.NewDiskStore(back)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if listed := countBlobs(ctx, t, restored); listed != resources+1 {
		t.Fatalf("the restored directory holds %d blobs, want %d", listed, resources+1)
	}
	t.Logf("migrated %d blobs disk → S3 while serving, 1 more after the stop, served by 2 replicas, %d back to disk",
		resources, resources+1)
}

// countBlobs lists store, checking that every blob hashes to its name.
func countBlobs(ctx context.Context, t *testing.T, store vault.Store) int {
	t.Helper()
	count := 0
	if err := store.List(ctx, func(b vault.BlobInfo) error {
		h, _ := vault.ParseHash(b.Hash)
		rc, _, err := store.Get(ctx, h)
		if err != nil {
			return err
		}
		defer rc.Close()
		sum := sha256.New()
		size, _ := io.Copy(sum, rc)
		if vault.Hash(sum.Sum(nil)) != h || size != b.Size {
			return fmt.Errorf("blob %s is partial or corrupt", h)
		}
		count++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return count
}

// TestVaultOnReplicatedSeaweedFS: with SeaweedFS replicating every volume on
// two volume servers (replication 001), one volume server killed -9 does not
// stop reads: every blob and a record are still served through the vault's
// store.
func TestVaultOnReplicatedSeaweedFS(t *testing.T) {
	n := network.StartNode(t)
	sw := network.StartSeaweedFSCluster(t, 2, "001")
	sw.MakeBucket("vault")
	network.SetCredentials(t)
	v := network.StartVault(t, n, sw.Flags("vault", "")...)
	kr := nodeKeyring(t, n.Home)
	c := &vault.Client{BaseURL: v.URL, Keyring: kr, UID: "hospital", Address: n.Address("hospital")}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	blobs := make([][]byte, 40)
	for i := range blobs {
		blobs[i] = make([]byte, 256<<10)
		_, _ = rand.Read(blobs[i])
		if err := c.Put(ctx, vault.Hash(sha256.Sum256(blobs[i])), bytes.NewReader(blobs[i]), int64(len(blobs[i]))); err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
	}
	alice := n.Address("alice")
	n.CLI("consent", "grant", n.Address("hospital"), "--classes", "lab-result", "--permissions", "read,write",
		"--expires", "24h", "--from", "alice", "--keyring-backend", "test")
	file := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(file, []byte(labResultFHIR), 0o600); err != nil {
		t.Fatal(err)
	}
	var put struct {
		RecordID json.Number `json:"record_id"`
	}
	n.CLIJSON(&put, "records", "put", file, "--patient", alice, "--class", "lab-result", "--fhir-type", "Observation",
		"--vault", v.URL, "--from", "hospital", "--keyring-backend", "test")

	sw.KillVolume(0)

	store := s3StoreOf(ctx, t, sw, "")
	for i, blob := range blobs {
		rc, _, err := store.Get(ctx, vault.Hash(sha256.Sum256(blob)))
		if err != nil {
			t.Fatalf("blob %d with a volume server down: %v", i, err)
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, blob) {
			t.Fatalf("blob %d with a volume server down: %d bytes, %v", i, len(got), err)
		}
	}
	out := filepath.Join(t.TempDir(), "read.json")
	n.CLI("records", "get", put.RecordID.String(), "--purpose", "PATRQT", "--vault", v.URL, "--out", out, "--from", "alice",
		"--keyring-backend", "test")
	if got, _ := os.ReadFile(out); string(got) != labResultFHIR {
		t.Fatalf("alice read %q with a volume server down", got)
	}
	t.Logf("%d blobs of 256 KiB and one record, all read back whole with one of two volume servers killed", len(blobs))
}
