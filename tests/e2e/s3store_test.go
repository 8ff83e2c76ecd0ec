package e2e

import (
	"context"
	"testing"
	"time"

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
	sw.MakeBucket(cfg.Bucket)
	store, err := vault.NewS3Store(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	vaulttest.TestStore(t, store)
}
