package vault_test

import (
	"testing"

	"github.com/healthd-chain/healthd/vault"
	"github.com/healthd-chain/healthd/vault/vaulttest"
)

func TestDiskStoreKeepsTheStoreGuarantees(t *testing.T) {
	store, err := vault.NewDiskStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	vaulttest.TestStore(t, store)
}
