package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/testutil/network"
)

var npmOnce sync.Once

// fhirClientDir installs the npm packages of the FHIR client (fhir-kit-client,
// jose, fhir) from tests/e2e/fhirclient/package-lock.json, once per run, and
// returns the folder. Node and npm are required: CI installs them.
func fhirClientDir(t *testing.T) string {
	t.Helper()
	root, err := network.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "tests", "e2e", "fhirclient")
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: the FHIR server test drives it with third-party JavaScript FHIR libraries "+
				"(apt-get install nodejs npm)", tool)
		}
	}
	var installErr error
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "fhir-kit-client", "package.json")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	return dir
}

// runFHIRClient runs one phase of fhirclient/client.mjs and decodes what it
// printed.
func runFHIRClient(t *testing.T, dir string, env map[string]string, out any) {
	t.Helper()
	cmd := exec.Command("node", "client.mjs")
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("FHIR client phase %s: %v\n%s\n%s", env["PHASE"], err, stderr.String(), stdout.String())
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), out); err != nil {
		t.Fatalf("FHIR client phase %s printed %q: %v", env["PHASE"], stdout.String(), err)
	}
}

// transactionBundle turns the synthetic patient history into a transaction
// Bundle about the patient mrn.
func transactionBundle(t *testing.T, n int, mrn string) []byte {
	t.Helper()
	raw, err := fhir.SyntheticBundle(n, 18)
	if err != nil {
		t.Fatal(err)
	}
	return toTransaction(t, raw, mrn)
}

// toTransaction makes a synthetic collection Bundle a transaction about the
// patient mrn: the Patient carries the MRN, every reference to it names
// Patient/MRN, and each entry POSTs its resource.
func toTransaction(t testing.TB, raw []byte, mrn string) []byte {
	t.Helper()
	raw = bytes.ReplaceAll(raw, []byte(`"Patient/synthetic-1"`), []byte(`"Patient/`+mrn+`"`))
	raw = bytes.ReplaceAll(raw, []byte(`"SYN-0001"`), []byte(`"`+mrn+`"`))
	var b map[string]any
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	b["type"] = "transaction"
	delete(b, "timestamp")
	for _, e := range b["entry"].([]any) {
		entry := e.(map[string]any)
		typ := entry["resource"].(map[string]any)["resourceType"].(string)
		entry["request"] = map[string]any{"method": "POST", "url": typ}
	}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFHIRServer: an EHR connects to `healthd fhir serve` with a third-party
// FHIR client library (fhir-kit-client) and SMART Backend Services (a client
// assertion signed with the jose library): it posts a transaction Bundle of
// 300 resources, searches with paging, reads, amends, asks $everything,
// Provenance, the patient's Consents and the AuditEvents of every read; every
// resource the server emits passes a third-party R4 validator (npm fhir).
// Then a second organization, without consent, gets 403 OperationOutcomes
// carrying the chain's reason, until the patient grants it lab results.
func TestFHIRServer(t *testing.T) {
	dir := fhirClientDir(t)
	n := network.StartNode(t)
	v := network.StartVault(t, n)
	alice, hospital, lab := n.Address("alice"), n.Address("hospital"), n.Address("lab")
	kr := []string{"--keyring-backend", "test"}
	tmp := t.TempDir()

	// the hospital's IT registers its EHR as a SMART backend client
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: priv, KeyID: "ehr-2026", Algorithm: string(jose.ES384), Use: "sig"}
	privJSON, err := jwk.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(tmp, "ehr-key.json")
	clientsFile := filepath.Join(tmp, "clients.json")
	clients := map[string]any{"clients": []any{map[string]any{
		"client_id": "ehr", "name": "Test EHR", "jwks": jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}},
		"scopes": []string{"system/*.rs", "system/*.cu"}, "purposes": []string{"TREAT", "ETREAT"},
	}}}
	clientsJSON, err := json.Marshal(clients)
	if err != nil {
		t.Fatal(err)
	}
	for f, data := range map[string][]byte{keyFile: privJSON, clientsFile: clientsJSON} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// and maps the patient's MRN to her account (a local file, never on chain)
	const mrn = "MRN-ZX-40417"
	patients := filepath.Join(tmp, "patients.json")
	n.CLI("fhir", "patients", "set", mrn, alice, "--patients", patients)
	if res := n.Exec("fhir", "patients", "set", "bad/mrn", alice, "--patients", patients); res.ExitCode == 0 {
		t.Fatal("an MRN that cannot be a FHIR id was accepted")
	}

	// alice lets the hospital read and write every class the history uses
	classes := "diagnosis,lab-result,vital-signs,prescription,allergy,immunization,procedure,clinical-note,imaging,other"
	n.CLI(append([]string{
		"consent", "grant", hospital, "--classes", classes, "--purposes", "TREAT", "--permissions", "read,write",
		"--expires", "720h", "--from", "alice", "--yes",
	}, kr...)...)

	// the EHR's MRNs are identifiers of the system urn:example:mrn
	fh := network.StartFHIRServer(t, n, "hospital", v.URL, clientsFile, patients, "--mrn-system", "urn:example:mrn")
	fl := network.StartFHIRServer(t, n, "lab", v.URL, clientsFile, patients, "--mrn-system", "urn:example:mrn")

	const resources = 300
	bundleFile := filepath.Join(tmp, "transaction.json")
	if err := os.WriteFile(bundleFile, transactionBundle(t, resources, mrn), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"FHIR_URL": fh.URL, "CLIENT_ID": "ehr", "KEY": keyFile, "MRN": mrn, "BUNDLE": bundleFile, "UNKNOWN_MRN": "MRN-NOBODY",
		"PHASE": "hospital",
	}
	var story struct {
		Validated       int        `json:"validated"`
		Created         int        `json:"created"`
		Observations    int        `json:"observations"`
		Pages           int        `json:"pages"`
		Everything      int        `json:"everything"`
		AuditEvents     int        `json:"auditEvents"`
		TransactionMs   int64      `json:"transactionMs"`
		EverythingMs    int64      `json:"everythingMs"`
		Provenance      [][]string `json:"provenance"`
		SampleIDs       []string   `json:"sampleResourceIds"`
		SampleType      string     `json:"sampleType"`
		ParallelCreated int        `json:"parallelCreated"`
		Consents        []struct {
			Status string `json:"status"`
			Actor  string `json:"actor"`
		} `json:"consents"`
	}
	runFHIRClient(t, dir, env, &story)
	t.Logf("hospital: %+v", story)
	// the Patient entry names the patient (not stored); the other 299 are records
	if story.Created != resources-1 || story.Everything != resources || story.Observations == 0 || story.Validated < 10 {
		t.Fatalf("the hospital's story: %+v", story)
	}
	// the transaction is one chain transaction: its 299 records at one height
	// (then one amendment, and 3 parallel transactions of 5)
	recs := recordsOf(t, n, alice)
	atHeight := map[string]int{}
	for _, r := range recs {
		if r.Author != hospital {
			t.Fatalf("record %s by %s", r.ID, r.Author)
		}
		atHeight[r.Height]++
	}
	if len(recs) != resources+story.ParallelCreated || atHeight[recs[0].Height] != resources-1 {
		t.Fatalf("%d records (%v by height), want %d, the first %d at one height", len(recs), atHeight, resources+story.ParallelCreated, resources-1)
	}
	// nothing readable of the patient reaches the server's log
	logRaw, err := os.ReadFile(fh.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{mrn, alice, "Synthetic"} {
		if bytes.Contains(logRaw, []byte(secret)) {
			t.Fatalf("the FHIR server's log holds %q", secret)
		}
	}

	// a second organization without consent: 403 with the chain's reason
	env["FHIR_URL"], env["PHASE"] = fl.URL, "lab-refused"
	env["SAMPLE_ID"], env["SAMPLE_TYPE"] = story.SampleIDs[0], story.SampleType
	var refused struct {
		Reasons []string `json:"reasons"`
	}
	runFHIRClient(t, dir, env, &refused)
	for _, r := range refused.Reasons {
		if r != "ACCESS_REASON_NO_CONSENT" {
			t.Fatalf("the lab was refused for %v, want ACCESS_REASON_NO_CONSENT", refused.Reasons)
		}
	}
	if len(refused.Reasons) != 3 {
		t.Fatalf("reasons %v", refused.Reasons)
	}

	// the patient grants the lab her lab results, and it reads them (only them)
	n.CLI(append([]string{
		"consent", "grant", lab, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read",
		"--expires", "720h", "--from", "alice", "--yes",
	}, kr...)...)
	env["PHASE"] = "lab-allowed"
	var allowed struct {
		LabResults int      `json:"labResults"`
		Reasons    []string `json:"reasons"`
	}
	runFHIRClient(t, dir, env, &allowed)
	if allowed.LabResults == 0 || len(allowed.Reasons) != 1 || allowed.Reasons[0] != "ACCESS_REASON_NOT_COVERED" {
		t.Fatalf("after the grant the lab got %+v", allowed)
	}
}
