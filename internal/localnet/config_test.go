package localnet

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/codec/address"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	cryptocodec "github.com/cosmos/cosmos-sdk/crypto/codec"
	"github.com/cosmos/cosmos-sdk/crypto/hd"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"

	"github.com/healthd-chain/healthd/crypto"
)

const validMnemonic = "picnic slam curve decline use print secret feel impose gentle sleep either outer boat clown tape horn despair unit dwarf primary weapon goat luxury"

func validConfig() string {
	return `version: 1
accounts:
  - name: validator
    coins: ["1000uhealth"]
    mnemonic: "` + validMnemonic + `"
  - name: bob
    coins: ["5uhealth"]
    address: health1udq9c2fdd4e02d45k9c6axdwmlcgsaj77clnxf
validators:
  - name: validator
    bonded: "500uhealth"
genesis:
  chain_id: test-1
`
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		wantErr string
	}{
		{"valid", func(s string) string { return s }, ""},
		{"unknown top-level key", func(s string) string { return s + "faucet:\n  name: bob\n" }, "field faucet not found"},
		{"typo in an account key", func(s string) string { return strings.Replace(s, "coins:", "coin:", 1) }, "field coin not found"},
		{"wrong version", func(s string) string { return strings.Replace(s, "version: 1", "version: 2", 1) }, "version: must be 1"},
		{"no chain id", func(s string) string { return strings.Replace(s, "chain_id: test-1", "other: x", 1) }, "genesis.chain_id: required"},
		{"duplicate account", func(s string) string { return strings.Replace(s, "name: bob", "name: validator", 1) }, "duplicate account name"},
		{"bad account name", func(s string) string { return strings.Replace(s, "name: bob", "name: Bob!", 1) }, "use 1-32 lower-case"},
		{"bad mnemonic", func(s string) string { return strings.Replace(s, "picnic slam", "picnic picnic", 1) }, "not a valid BIP-39 mnemonic"},
		{"bad coins", func(s string) string { return strings.Replace(s, `["5uhealth"]`, `["five"]`, 1) }, "coins"},
		{"no validator", func(s string) string {
			return strings.Replace(s, "  - name: validator\n    bonded", "  - name: nobody\n    bonded", 1)
		}, "no account of that name"},
		{"validator without mnemonic", func(s string) string {
			return strings.Replace(s, "  - name: validator\n    bonded", "  - name: bob\n    bonded", 1)
		}, "needs a mnemonic"},
		{"bonded more than owned", func(s string) string { return strings.Replace(s, `bonded: "500uhealth"`, `bonded: "5000uhealth"`, 1) }, "at most the account's 1000uhealth"},
		{"mnemonic and address", func(s string) string {
			return strings.Replace(s, "    address: health1", "    mnemonic: \""+validMnemonic+"\"\n    address: health1", 1)
		}, "not both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.edit(validConfig())))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if cfg.ChainID() != "test-1" || cfg.Validator().Name != "validator" || len(cfg.Digest()) != 64 {
					t.Fatalf("parsed config = chain %q validator %q digest %q", cfg.ChainID(), cfg.Validator().Name, cfg.Digest())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// The repository's own config.yml must stay valid and keep the demo accounts the
// docs and later modules rely on.
func TestRepositoryConfig(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	cfg, err := Load(filepath.Join(filepath.Dir(file), "..", "..", "config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ChainID() != "healthd-local-1" {
		t.Fatalf("chain id = %q", cfg.ChainID())
	}
	var names []string
	for _, a := range cfg.Accounts {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "validator,registrar,hospital,lab,clinic,alice,bob,custodian1,custodian2,custodian3" {
		t.Fatalf("accounts = %s", got)
	}

	// The provider registry at genesis names the registrar and the three demo
	// providers by the addresses their mnemonics derive, all active.
	addr := map[string]string{}
	for _, a := range cfg.Accounts {
		addr[a.Name] = addressOf(t, a.Mnemonic)
	}
	appState, _ := cfg.Genesis["app_state"].(map[string]any)
	registry, _ := appState["providers"].(map[string]any)
	params, _ := registry["params"].(map[string]any)
	if regs, _ := params["registrars"].([]any); len(regs) != 1 || regs[0] != addr["registrar"] {
		t.Fatalf("registrars = %v, want [%s]", params["registrars"], addr["registrar"])
	}
	providers, _ := registry["providers"].([]any)
	want := []string{"hospital", "lab", "clinic"}
	if len(providers) != len(want) {
		t.Fatalf("%d genesis providers, want %d", len(providers), len(want))
	}
	for i, p := range providers {
		entry, _ := p.(map[string]any)
		if entry["address"] != addr[want[i]] || entry["status"] != "PROVIDER_STATUS_ACTIVE" {
			t.Errorf("genesis provider %d = %v %v, want %s (%s) active", i, entry["address"], entry["status"], want[i], addr[want[i]])
		}
		assertDerivedKey(t, cfg, want[i], entry["encryption_key"])
	}
	consentState, _ := appState["consent"].(map[string]any)
	patients, _ := consentState["patients"].([]any)
	if len(patients) != 2 {
		t.Fatalf("%d genesis patients, want alice and bob", len(patients))
	}
	for i, name := range []string{"alice", "bob"} {
		entry, _ := patients[i].(map[string]any)
		if entry["address"] != addr[name] {
			t.Errorf("genesis patient %d = %v, want %s", i, entry["address"], name)
		}
		assertDerivedKey(t, cfg, name, entry["encryption_key"])
	}

	// three dedicated custodians, 2 of 3, with the keys their accounts derive
	cparams, _ := consentState["params"].(map[string]any)
	custodians, _ := cparams["custodians"].([]any)
	if len(custodians) != 3 || fmt.Sprint(cparams["custodian_threshold"]) != "2" {
		t.Fatalf("custodians %v, threshold %v: want 3 and 2", custodians, cparams["custodian_threshold"])
	}
	for i, c := range custodians {
		entry, _ := c.(map[string]any)
		name := fmt.Sprintf("custodian%d", i+1)
		if entry["address"] != addr[name] {
			t.Errorf("custodian %d = %v, want %s", i, entry["address"], name)
		}
		for _, p := range []string{"hospital", "lab", "clinic"} {
			if entry["address"] == addr[p] {
				t.Errorf("custodian %d is the provider %s: custodians must not be able to break the glass", i, p)
			}
		}
		assertDerivedKey(t, cfg, name, entry["encryption_key"])
	}
}

// assertDerivedKey checks that a genesis encryption key is the one the account
// derives from its mnemonic (crypto.EncryptionKeyFromKeyring).
func assertDerivedKey(t *testing.T, cfg *Config, name string, got any) {
	t.Helper()
	var mnemonic string
	for _, a := range cfg.Accounts {
		if a.Name == name {
			mnemonic = a.Mnemonic
		}
	}
	reg := codectypes.NewInterfaceRegistry()
	cryptocodec.RegisterInterfaces(reg)
	kr := keyring.NewInMemory(codec.NewProtoCodec(reg))
	if _, err := kr.NewAccount(name, mnemonic, "", hd.CreateHDPath(118, 0, 0).String(), hd.Secp256k1); err != nil {
		t.Fatal(err)
	}
	priv, err := crypto.EncryptionKeyFromKeyring(kr, name, addressOf(t, mnemonic))
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()); got != want {
		t.Errorf("%s's genesis encryption key is not the one its account derives", name)
	}
}

// addressOf derives the first account address (coin type 118) of a mnemonic, as
// `healthd keys add --recover` does.
func addressOf(t *testing.T, mnemonic string) string {
	t.Helper()
	derived, err := hd.Secp256k1.Derive()(mnemonic, "", hd.CreateHDPath(118, 0, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	priv := hd.Secp256k1.Generate()(derived)
	s, err := address.NewBech32Codec("health").BytesToString(priv.PubKey().Address())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEditTOML(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.toml")
	orig := "# top comment\nminimum-gas-prices = \"\"\n\n[api]\n# Enable defines if the API server should be enabled.\nenable = false\naddress = \"tcp://0.0.0.0:1317\"\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}

	err := EditTOML(path, map[string]any{
		"minimum-gas-prices": "0uhealth",
		"api":                map[string]any{"enable": true, "address": "tcp://127.0.0.1:1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	for _, want := range []string{
		"# top comment", "minimum-gas-prices = \"0uhealth\"", "# Enable defines if the API server should be enabled.",
		"enable = true", "address = \"tcp://127.0.0.1:1\"",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("edited file lacks %q:\n%s", want, got)
		}
	}

	// A key the file does not have is refused and the file is left as it was.
	err = EditTOML(path, map[string]any{"api": map[string]any{"enabel": true}})
	if err == nil || !strings.Contains(err.Error(), `no setting "api.enabel"`) {
		t.Fatalf("error = %v, want a refusal of the unknown key", err)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(got) {
		t.Fatal("a refused edit changed the file")
	}
}

func TestMergeGenesis(t *testing.T) {
	path := filepath.Join(t.TempDir(), "genesis.json")
	orig := `{"chain_id":"a","initial_height":"1","app_state":{"gov":{"params":{"voting_period":"172800s","quorum":"0.334"}},"bank":{"supply":[]}},"big":123456789012345678901}`
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	err := MergeGenesis(path, map[string]any{
		"chain_id":  "b",
		"app_state": map[string]any{"gov": map[string]any{"params": map[string]any{"voting_period": "60s"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	for _, want := range []string{`"chain_id": "b"`, `"voting_period": "60s"`, `"quorum": "0.334"`, `"supply": []`, `"big": 123456789012345678901`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("merged genesis lacks %s:\n%s", want, got)
		}
	}
}
