package e2e

import (
	"context"
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
