package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/crypto"
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
	// `healthd consent grant` wraps alice's class key to the grantee itself
	shareWith := func(grantee, perms string) {
		var granted struct {
			ConsentID json.Number `json:"consent_id"`
			WithKeys  bool        `json:"with_keys"`
		}
		n.CLIJSON(&granted, "consent", "grant", grantee, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", perms,
			"--expires", "720h", "--from", "alice", "--keyring-backend", "test")
		if granted.ConsentID == "" || !granted.WithKeys {
			t.Fatalf("consent grant: %+v", granted)
		}
	}
	get := func(who, id, out string) network.Result {
		return n.Exec("records", "get", id, "--purpose", "TREAT", "--out", out, "--from", who, "--keyring-backend", "test")
	}

	// given alice shares lab-result with hospital (read and write, with the key)
	shareWith(hospital, "read,write")

	// when hospital files the lab result
	id := putLabResult(t, n, original, alice, v.URL)

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
	// and lab's read is in alice's accounting of disclosures; her own is not a
	// disclosure and takes no receipt (docs/architecture.md §13)
	var receipts struct {
		Receipts []receiptView `json:"receipts"`
	}
	if err := n.GetJSON("/healthd/records/v1/patients/"+alice+"/receipts", &receipts); err != nil || len(receipts.Receipts) != 1 ||
		receipts.Receipts[0].Accessor != lab {
		t.Fatalf("receipts = %+v, %v; want lab's only", receipts.Receipts, err)
	}

	// when alice revokes lab's consent, lab is refused again
	labConsent := newestConsent(t, n, "/healthd/consent/v1/grantees/"+lab+"/consents")
	var labGrant struct {
		Consent struct {
			KeyGrants []string `json:"key_grants"`
		} `json:"consent"`
	}
	if err := n.GetJSON("/healthd/consent/v1/consents/"+labConsent.ID, &labGrant); err != nil || len(labGrant.Consent.KeyGrants) != 1 {
		t.Fatalf("lab's consent: %+v, %v", labGrant, err)
	}
	var revoked struct {
		RotatedClasses []string          `json:"rotated_classes"`
		NewEpochs      map[string]uint64 `json:"new_epochs"`
		Rekeyed        []uint64          `json:"rekeyed_consents"`
	}
	n.CLIJSON(&revoked, "consent", "revoke", labConsent.ID, "--from", "alice", "--keyring-backend", "test")
	if len(revoked.RotatedClasses) != 1 || revoked.NewEpochs["lab-result"] != 2 || len(revoked.Rekeyed) != 1 {
		t.Fatalf("revoke = %+v; want lab-result at epoch 2 and hospital's consent re-keyed", revoked)
	}
	if res := get("lab", id, filepath.Join(dir, "lab2.json")); res.ExitCode == 0 || !strings.Contains(res.Stderr, "ACCESS_REASON_REVOKED") {
		t.Fatalf("lab after revoke: exit %d, %s", res.ExitCode, res.Stderr)
	}

	// and the class key was rotated: the hospital, re-keyed in the same
	// transaction, files a new record under epoch 2 and still reads the old one
	id2 := putLabResult(t, n, original, alice, v.URL)
	var rec2 struct {
		Record struct {
			KeyEpoch    string `json:"key_epoch"`
			KeyEnvelope []byte `json:"key_envelope"`
			ContentHash []byte `json:"content_hash"`
		} `json:"record"`
	}
	if err := n.GetJSON("/healthd/records/v1/records/"+id2, &rec2); err != nil || rec2.Record.KeyEpoch != "2" {
		t.Fatalf("record after the rotation: %+v, %v", rec2, err)
	}
	for _, r := range []string{id, id2} {
		hOut := filepath.Join(dir, "hospital-"+r+".json")
		if res := get("hospital", r, hOut); res.ExitCode != 0 {
			t.Fatalf("hospital reads record %s after the rotation: %s", r, res.Stderr)
		}
		if got, _ := os.ReadFile(hOut); string(got) != labResultFHIR {
			t.Fatalf("hospital decrypted record %s as %q", r, got)
		}
	}
	// and alice, the patient, reads the new one with her derived key
	if res := get("alice", id2, filepath.Join(dir, "alice2.json")); res.ExitCode != 0 {
		t.Fatalf("alice reads the epoch-2 record: %s", res.Stderr)
	}
	// but the key lab kept (its epoch-1 grant) does not open the new record
	kr := nodeKeyring(t, n.Home)
	labPriv, err := crypto.EncryptionKeyFromKeyring(kr, "lab", lab)
	if err != nil {
		t.Fatal(err)
	}
	grant, err := base64.StdEncoding.DecodeString(labGrant.Consent.KeyGrants[0])
	if err != nil {
		t.Fatal(err)
	}
	oldKey, oldCtx, err := crypto.UnwrapClassKey(labPriv, grant, alice)
	if err != nil || oldCtx.Epoch != 1 {
		t.Fatalf("lab's own grant: epoch %d, %v", oldCtx.Epoch, err)
	}
	if _, err := crypto.RegressClassKey(oldKey, 1, 2); err == nil {
		t.Fatal("lab's epoch-1 key gave the epoch-2 key")
	}
	for _, e := range []uint64{1, 2} {
		kctx := crypto.KeyContext{Patient: alice, DataClass: "lab-result", Epoch: e}
		if _, err := crypto.UnwrapDataKey(oldKey, rec2.Record.KeyEnvelope, kctx, rec2.Record.ContentHash); err == nil {
			t.Fatalf("lab's revoked key opened the record written after the revocation (as epoch %d)", e)
		}
	}
	// and a record under the old epoch is refused by the chain
	stale := n.Exec("tx", "records", "create", "TREAT", entryJSON(t, "stale-epoch"), "--patient", alice, "--from", "hospital", "--yes")
	if stale.ExitCode == 0 || !strings.Contains(stale.Stderr, "current epoch is 2") {
		t.Fatalf("a record under epoch 1 after the rotation: exit %d, %s", stale.ExitCode, stale.Stderr)
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

// TestConsentCommandsForADelegate: a live delegate grants for the patient
// with `healthd consent grant --patient` (no keys: only the patient holds
// them) and revokes with `healthd consent revoke`, which says no key moved;
// the deprecated `records revoke` alias still works and keeps stdout JSON.
func TestConsentCommandsForADelegate(t *testing.T) {
	n := network.StartNode(t)
	alice, bob, lab := n.Address("alice"), n.Address("bob"), n.Address("lab")
	n.CLI("tx", "consent", "add-delegate", bob, time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339), "--from", "alice", "--yes")
	kr := []string{"--keyring-backend", "test"}

	// a delegate's grant for the patient carries no keys (only the patient holds them)
	res := n.Exec(append([]string{
		"consent", "grant", lab, "--patient", alice, "--classes", "lab-result", "--expires", "12h",
		"--from", "bob", "--no-keys=false",
	}, kr...)...)
	var granted struct {
		ConsentID json.Number `json:"consent_id"`
		WithKeys  bool        `json:"with_keys"`
	}
	if res.ExitCode != 0 || json.Unmarshal([]byte(res.Stdout), &granted) != nil || granted.WithKeys || granted.ConsentID == "" {
		t.Fatalf("bob's grant for alice: exit %d, %s %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	c := newestConsent(t, n, "/healthd/consent/v1/grantees/"+lab+"/consents")
	if c.ID != granted.ConsentID.String() {
		t.Fatalf("lab's newest consent %s, granted %s", c.ID, granted.ConsentID)
	}

	// bob revokes it; no key moves, and the output says why
	var revoked struct {
		Revoked        json.Number `json:"revoked"`
		RotatedClasses []string    `json:"rotated_classes"`
	}
	n.CLIJSON(&revoked, append([]string{"consent", "revoke", c.ID, "--from", "bob"}, kr...)...)
	if revoked.Revoked.String() != c.ID || len(revoked.RotatedClasses) != 0 {
		t.Fatalf("bob's revoke: %+v", revoked)
	}
	var after struct {
		Consent struct {
			Status string `json:"status"`
		} `json:"consent"`
	}
	if err := n.GetJSON("/healthd/consent/v1/consents/"+c.ID, &after); err != nil || after.Consent.Status != "CONSENT_STATUS_REVOKED" {
		t.Fatalf("the consent after bob's revoke: %+v, %v", after, err)
	}

	// the deprecated alias: same command, a note on stderr, JSON on stdout
	n.CLIJSON(&granted, append([]string{"consent", "grant", lab, "--classes", "lab-result", "--expires", "24h", "--from", "alice"}, kr...)...)
	res = n.Exec(append([]string{"records", "revoke", granted.ConsentID.String(), "--from", "alice"}, kr...)...)
	if res.ExitCode != 0 || !strings.Contains(res.Stderr, "deprecated") || json.Unmarshal([]byte(res.Stdout), &revoked) != nil ||
		len(revoked.RotatedClasses) != 1 {
		t.Fatalf("records revoke: exit %d, stdout %s, stderr %s", res.ExitCode, res.Stdout, res.Stderr)
	}
}

// putLabResult files file as alice's lab result through the vault, signed by
// hospital under TREAT, and returns the record id.
func putLabResult(t *testing.T, n *network.Node, file, patient, vaultURL string) string {
	t.Helper()
	var put struct {
		RecordID json.Number `json:"record_id"`
	}
	n.CLIJSON(&put, "records", "put", file, "--patient", patient, "--class", "lab-result", "--purpose", "TREAT",
		"--fhir-type", "Observation", "--vault", vaultURL, "--from", "hospital", "--keyring-backend", "test")
	if put.RecordID == "" {
		t.Fatal("records put gave no record id")
	}
	return put.RecordID.String()
}
