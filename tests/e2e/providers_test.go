package e2e

import (
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tk "github.com/healthd-chain/healthd/testutil/keeper"
	"github.com/healthd-chain/healthd/testutil/network"
)

// providerView is the REST answer of /healthd/providers/v1/providers/{address}.
type providerView struct {
	Provider struct {
		Address             string `json:"address"`
		Name                string `json:"name"`
		Kind                string `json:"kind"`
		Status              string `json:"status"`
		StatusReason        string `json:"status_reason"`
		CredentialExpiresAt string `json:"credential_expires_at"`
	} `json:"provider"`
	IsActive bool `json:"is_active"`
}

func getProvider(t *testing.T, n *network.Node, addr string) providerView {
	t.Helper()
	var v providerView
	if err := n.GetJSON("/healthd/providers/v1/providers/"+addr, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// newFundedKey adds a key to the node's keyring and funds it from the validator.
func newFundedKey(t *testing.T, n *network.Node, name string) string {
	t.Helper()
	n.CLI("keys", "add", name, "--keyring-backend", "test")
	addr := n.Address(name)
	n.CLI("tx", "bank", "send", "validator", addr, "1000000uhealth", "--yes")
	return addr
}

func TestProviderLifecycle(t *testing.T) {
	// given a node whose genesis registry has a registrar and three active providers
	n := network.StartNode(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "pharmacy.key")
	if err := os.WriteFile(keyFile, tk.EncryptionKey("pharmacy"), 0o600); err != nil {
		t.Fatal(err)
	}
	credHash := hex.EncodeToString(make([]byte, 32))
	pharmacy := newFundedKey(t, n, "pharmacy")

	t.Run("genesis providers are active", func(t *testing.T) {
		for _, name := range []string{"hospital", "lab", "clinic"} {
			if v := getProvider(t, n, n.Address(name)); !v.IsActive || v.Provider.Status != "PROVIDER_STATUS_ACTIVE" {
				t.Errorf("%s = %+v, want active", name, v)
			}
		}
		var list struct {
			Providers []providerView `json:"providers"`
		}
		// REST (grpc-gateway v1) takes enum filters as numbers: status 2 = active, kind 3 = laboratory.
		if err := n.GetJSON("/healthd/providers/v1/providers?status=2&kind=3", &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Providers) != 1 || list.Providers[0].Provider.Address != n.Address("lab") {
			t.Errorf("active laboratories = %+v, want only lab", list.Providers)
		}
	})

	t.Run("apply, approve, suspend, reinstate", func(t *testing.T) {
		// when the pharmacy applies
		n.CLI("tx", "providers", "apply", "Example Pharmacy", "pharmacy", "PH-0042", "DE", keyFile,
			"http://127.0.0.1:8800", credHash, "--from", "pharmacy", "--yes")
		// then it is pending and not active
		if v := getProvider(t, n, pharmacy); v.Provider.Status != "PROVIDER_STATUS_PENDING" || v.IsActive || v.Provider.Kind != "PROVIDER_KIND_PHARMACY" {
			t.Fatalf("after apply: %+v", v)
		}

		// when the registrar approves it for a year
		expires := time.Now().UTC().Add(365 * 24 * time.Hour).Add(-time.Hour).Format(time.RFC3339)
		n.CLI("tx", "providers", "approve", pharmacy, expires, credHash, "--from", "registrar", "--yes")
		// then it appears active over REST
		if v := getProvider(t, n, pharmacy); v.Provider.Status != "PROVIDER_STATUS_ACTIVE" || !v.IsActive {
			t.Fatalf("after approve: %+v", v)
		}

		// when the registrar suspends it
		n.CLI("tx", "providers", "set-status", pharmacy, "suspended", "security-incident", "--from", "registrar", "--yes")
		// then IsActive is false, as the query shows
		if v := getProvider(t, n, pharmacy); v.Provider.Status != "PROVIDER_STATUS_SUSPENDED" || v.IsActive ||
			v.Provider.StatusReason != "STATUS_REASON_SECURITY_INCIDENT" {
			t.Fatalf("after suspend: %+v", v)
		}
		// and the CLI says so explicitly (a false is printed, not omitted)
		var cli map[string]any
		n.CLIJSON(&cli, "query", "providers", "provider", pharmacy)
		if active, present := cli["is_active"]; !present || active != false {
			t.Fatalf("CLI output is_active = %v (present %v), want false", active, present)
		}

		// when the registrar reinstates it
		n.CLI("tx", "providers", "set-status", pharmacy, "active", "issue-resolved", "--from", "registrar", "--yes")
		// then it is active again
		if v := getProvider(t, n, pharmacy); v.Provider.Status != "PROVIDER_STATUS_ACTIVE" || !v.IsActive {
			t.Fatalf("after reinstate: %+v", v)
		}
	})

	t.Run("refusals are clear registered errors", func(t *testing.T) {
		bob := n.Address("bob")
		shortKey := filepath.Join(dir, "short.key")
		if err := os.WriteFile(shortKey, make([]byte, 100), 0o600); err != nil {
			t.Fatal(err)
		}
		apply := func(name, kind, key, endpoint string) []string {
			return []string{"tx", "providers", "apply", name, kind, "LIC-1", "DE", key, endpoint, credHash, "--from", "bob", "--yes"}
		}
		expires := time.Now().UTC().Add(24 * time.Hour).Format(time.RFC3339)
		cases := []struct {
			name, want string
			args       []string
		}{
			{
				"a non-registrar approving", `(code 2, codespace "providers"): failed to execute message; message index: 0: alice is neither a registrar nor the governance authority: signer is not allowed to do this`,
				[]string{"tx", "providers", "approve", pharmacy, expires, credHash, "--from", "alice", "--yes"},
			},
			{
				"a provider suspending itself", `(code 17, codespace "providers")`,
				[]string{"tx", "providers", "set-status", pharmacy, "suspended", "misconduct", "--from", "pharmacy", "--yes"},
			},
			{"an over-long name", "invalid name", apply(strings.Repeat("n", 129), "clinic", keyFile, "https://vault.example.org")},
			{"an over-long endpoint", "invalid vault endpoint", apply("Bob Clinic", "clinic", keyFile, "https://vault.example.org/"+strings.Repeat("p", 250))},
			{"a malformed encryption key", "must be 1216 bytes (HPKE MLKEM768X25519 public key), got 100", apply("Bob Clinic", "clinic", shortKey, "https://vault.example.org")},
			{"an unknown kind", "dentist is not a valid value for enum healthd.providers.v1.ProviderKind", apply("Bob Clinic", "dentist", keyFile, "https://vault.example.org")},
		}
		for _, tc := range cases {
			res := n.Exec(tc.args...)
			// alice's address appears in the message, not her key name
			want := strings.ReplaceAll(tc.want, "alice", n.Address("alice"))
			if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
				t.Errorf("%s: exit %d, stderr %q; want non-zero and %q", tc.name, res.ExitCode, res.Stderr, want)
			}
			if strings.Contains(res.Stdout+res.Stderr, "panic") {
				t.Errorf("%s: output shows a panic", tc.name)
			}
		}
		// and nothing was stored for bob, nor changed for the pharmacy
		resp, err := http.Get(n.API + "/healthd/providers/v1/providers/" + bob)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob's entry: HTTP %d, want 404", resp.StatusCode)
		}
		if v := getProvider(t, n, pharmacy); v.Provider.Status != "PROVIDER_STATUS_ACTIVE" || !v.IsActive {
			t.Errorf("pharmacy after refused messages: %+v", v)
		}
	})

	t.Run("a credential stops working at the block time it expires, with no transaction", func(t *testing.T) {
		// given a provider approved with a credential that expires in a few seconds
		lab2 := newFundedKey(t, n, "lab2")
		n.CLI("tx", "providers", "apply", "Short Lab", "laboratory", "LAB-2", "DE", keyFile,
			"https://vault.example.org", credHash, "--from", "lab2", "--yes")
		expiry := time.Now().UTC().Add(6 * time.Second).Truncate(time.Second)
		n.CLI("tx", "providers", "approve", lab2, expiry.Format(time.RFC3339), credHash, "--from", "registrar", "--yes")
		if v := getProvider(t, n, lab2); !v.IsActive {
			t.Fatalf("right after approval: %+v", v)
		}

		// when blocks pass the expiry (no transaction touches the provider)
		deadline := time.Now().Add(45 * time.Second)
		var v providerView
		for time.Now().Before(deadline) {
			if v = getProvider(t, n, lab2); !v.IsActive {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}

		// then it is no longer active, its registry status unchanged
		if v.IsActive || v.Provider.Status != "PROVIDER_STATUS_ACTIVE" {
			t.Fatalf("after expiry: %+v", v)
		}
		if bt := latestBlockTime(t, n); bt.Before(expiry) {
			t.Fatalf("inactive at block time %s, before the expiry %s", bt, expiry)
		}
	})
}

// latestBlockTime returns the time of the node's latest block, read over REST.
func latestBlockTime(t *testing.T, n *network.Node) time.Time {
	t.Helper()
	var block struct {
		Block struct {
			Header struct {
				Time time.Time `json:"time"`
			} `json:"header"`
		} `json:"block"`
	}
	if err := n.GetJSON("/cosmos/base/tendermint/v1beta1/blocks/latest", &block); err != nil {
		t.Fatal(err)
	}
	return block.Block.Header.Time
}
