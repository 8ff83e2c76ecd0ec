package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/healthd-chain/healthd/testutil/network"
)

// TestRecordsPutGet is the story a person drives with the CLI only: a provider
// files an encrypted lab result, the patient shares it, another provider reads
// it, every refusal is clear, and no plaintext lands on the node or the vault.
func TestRecordsPutGet(t *testing.T) {
	n := network.StartNode(t)
	v := network.StartVault(t, n)
	alice, hospital, lab := n.Address("alice"), n.Address("hospital"), n.Address("lab")
	dir := t.TempDir()
	original := filepath.Join(dir, "result.json")
	if err := os.WriteFile(original, []byte(labResultFHIR), 0o600); err != nil {
		t.Fatal(err)
	}
	shareWith := func(grantee, perms string) {
		grants := strings.Fields(n.CLI("records", "key-grants", grantee, "--classes", "lab-result", "--from", "alice", "--keyring-backend", "test"))
		n.CLI(append([]string{
			"tx", "consent", "grant", grantee, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", perms,
			"--expires", "720h", "--from", "alice", "--yes",
		}, grants...)...)
	}
	get := func(who, id, out string) network.Result {
		return n.Exec("records", "get", id, "--purpose", "TREAT", "--out", out, "--from", who, "--keyring-backend", "test")
	}

	// given alice shares lab-result with hospital (read and write, with the key)
	shareWith(hospital, "read,write")

	// when hospital files the lab result
	var put struct {
		RecordID json.Number `json:"record_id"`
	}
	out := n.CLI("records", "put", original, "--patient", alice, "--class", "lab-result", "--purpose", "TREAT",
		"--fhir-type", "Observation", "--vault", v.URL, "--from", "hospital", "--keyring-backend", "test")
	if err := json.Unmarshal([]byte(out), &put); err != nil || put.RecordID == "" {
		t.Fatalf("put output %q: %v", out, err)
	}
	id := put.RecordID.String()

	// then lab, without consent, is refused with a clear message and gets no file
	labOut := filepath.Join(dir, "lab.json")
	if res := get("lab", id, labOut); res.ExitCode == 0 || !strings.Contains(res.Stderr, "access refused") || !strings.Contains(res.Stderr, "ACCESS_REASON_NO_CONSENT") {
		t.Fatalf("lab without consent: exit %d, %s", res.ExitCode, res.Stderr)
	}
	if _, err := os.Stat(labOut); !os.IsNotExist(err) {
		t.Fatal("a refused get wrote the output file")
	}

	// when alice shares with lab (read), lab gets the exact original bytes
	shareWith(lab, "read")
	if res := get("lab", id, labOut); res.ExitCode != 0 {
		t.Fatalf("lab with consent: %s", res.Stderr)
	}
	if got, _ := os.ReadFile(labOut); string(got) != labResultFHIR {
		t.Fatalf("lab decrypted %q", got)
	}
	// and alice, the patient, reads her own record with her derived key
	aliceOut := filepath.Join(dir, "alice.json")
	if res := get("alice", id, aliceOut); res.ExitCode != 0 {
		t.Fatalf("alice: %s", res.Stderr)
	}
	if got, _ := os.ReadFile(aliceOut); string(got) != labResultFHIR {
		t.Fatalf("alice decrypted %q", got)
	}
	// and every read is in alice's accounting of disclosures
	var receipts struct {
		Receipts []receiptView `json:"receipts"`
	}
	if err := n.GetJSON("/healthd/records/v1/patients/"+alice+"/receipts", &receipts); err != nil || len(receipts.Receipts) != 2 {
		t.Fatalf("receipts = %+v, %v; want lab's and alice's", receipts.Receipts, err)
	}

	// when alice revokes lab's consent, lab is refused again
	labConsent := newestConsent(t, n, "/healthd/consent/v1/grantees/"+lab+"/consents")
	n.CLI("tx", "consent", "revoke", labConsent.ID, "--from", "alice", "--yes")
	if res := get("lab", id, filepath.Join(dir, "lab2.json")); res.ExitCode == 0 || !strings.Contains(res.Stderr, "ACCESS_REASON_REVOKED") {
		t.Fatalf("lab after revoke: exit %d, %s", res.ExitCode, res.Stderr)
	}

	// when alice erases the record, even its author is told it is gone
	n.CLI("tx", "records", "erase", id, "--from", "alice", "--yes")
	if res := get("hospital", id, filepath.Join(dir, "h.json")); res.ExitCode == 0 || !strings.Contains(res.Stderr, "was erased") {
		t.Fatalf("hospital after erase: exit %d, %s", res.ExitCode, res.Stderr)
	}

	// and no plaintext reached the node's or the vault's data
	for _, needle := range []string{"ZQXJ-7731", "Vandenbroucke-Oyelaran"} {
		for _, d := range []string{n.Home, v.Data} {
			if f := findInTree(t, d, needle); f != "" {
				t.Fatalf("plaintext %q found in %s", needle, f)
			}
		}
	}
}
