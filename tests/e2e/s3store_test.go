package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/healthd-chain/healthd/testutil/network"
	"github.com/healthd-chain/healthd/vault"
	"github.com/healthd-chain/healthd/vault/vaulttest"
)

// TestS3StoreOnSeaweedFS: the vault's object-store backend keeps every
// storage guarantee (vaulttest.TestStore) on a real SeaweedFS, under a key
// prefix, and refuses a bucket that does not exist.
func TestS3StoreOnSeaweedFS(t *testing.T) {
	sw := network.StartSeaweedFS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := vault.S3Config{Endpoint: sw.S3, Bucket: "healthd-vault", Prefix: "test", AccessKey: "any", SecretKey: "any", PathStyle: true}
	if _, err := vault.NewS3Store(ctx, cfg); err == nil {
		t.Fatal("a missing bucket was accepted")
	}
	c, err := minio.New(sw.S3, &minio.Options{Creds: credentials.NewStaticV4("any", "any", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	// the gateway may take a moment to accept bucket operations after it listens
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if err = c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{}); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("create the bucket: %v", err)
	}
	store, err := vault.NewS3Store(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.TestStore(t, store)
}

// TestVaultOnSeaweedFS: `healthd vault start --store s3` on a real SeaweedFS
// bucket; a hospital files an encrypted record with the CLI and the patient
// reads it back byte for byte; the blob is an object of the bucket, and a
// vault without credentials refuses to start.
func TestVaultOnSeaweedFS(t *testing.T) {
	n := network.StartNode(t)
	sw := network.StartSeaweedFS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := minio.New(sw.S3, &minio.Options{Creds: credentials.NewStaticV4("any", "any", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if err = c.MakeBucket(ctx, "vault", minio.MakeBucketOptions{}); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("create the bucket: %v", err)
	}
	s3Flags := []string{"--store", "s3", "--s3-endpoint", sw.S3, "--s3-bucket", "vault", "--s3-prefix", "hospital-a", "--s3-tls=false"}

	// without credentials the vault says what it needs and does not start
	res := n.Exec(append([]string{"vault", "start", "--listen", "127.0.0.1:0", "--chain-grpc", n.GRPC}, s3Flags...)...)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "needs credentials") {
		t.Fatalf("a vault without S3 credentials: exit %d, %s", res.ExitCode, res.Stderr)
	}

	t.Setenv("HEALTHD_S3_ACCESS_KEY", "any")
	t.Setenv("HEALTHD_S3_SECRET_KEY", "any")
	v := network.StartVault(t, n, s3Flags...)
	alice := n.Address("alice")
	var granted struct {
		ConsentID json.Number `json:"consent_id"`
	}
	n.CLIJSON(&granted, "consent", "grant", n.Address("hospital"), "--classes", "lab-result", "--permissions", "read,write",
		"--expires", "24h", "--from", "alice", "--keyring-backend", "test")
	file := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(file, []byte(labResultFHIR), 0o600); err != nil {
		t.Fatal(err)
	}
	var put struct {
		RecordID    json.Number `json:"record_id"`
		ContentHash string      `json:"content_hash"`
	}
	n.CLIJSON(&put, "records", "put", file, "--patient", alice, "--class", "lab-result", "--fhir-type", "Observation",
		"--vault", v.URL, "--from", "hospital", "--keyring-backend", "test")
	out := filepath.Join(t.TempDir(), "read.json")
	n.CLI("records", "get", put.RecordID.String(), "--purpose", "PATRQT", "--vault", v.URL, "--out", out, "--from", "alice",
		"--keyring-backend", "test")
	if got, _ := os.ReadFile(out); string(got) != labResultFHIR {
		t.Fatalf("alice read %q", got)
	}
	// the ciphertext is an object of the bucket, under the vault's prefix
	oi, err := c.StatObject(ctx, "vault", "hospital-a/blobs/"+put.ContentHash, minio.StatObjectOptions{})
	if err != nil || oi.UserMetadata["Uploader"] != n.Address("hospital") {
		t.Fatalf("the blob's object: %+v, %v", oi.UserMetadata, err)
	}
	if _, err := os.Stat(filepath.Join(v.Data, "blobs")); !os.IsNotExist(err) {
		t.Fatalf("a vault on S3 wrote blobs to its data folder: %v", err)
	}
}
