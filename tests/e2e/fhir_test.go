package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/testutil/network"
)

// fhirPatientBundle builds a synthetic R4 patient Bundle of the given type:
// one resource of each kind healthd maps, with made-up, distinctive values
// (no real person) so the privacy check can search the data folders for them.
func fhirPatientBundle(bundleType string) (raw []byte, resources []map[string]any) {
	subject := map[string]any{"reference": "Patient/p1"}
	resources = []map[string]any{
		{
			"resourceType": "Patient", "id": "p1",
			"identifier": []any{map[string]any{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "MRN-QX48-ZZ901"}},
			"name":       []any{map[string]any{"family": "Kowalczyk-Abernathy", "given": []any{"Ysolde"}}},
			"gender":     "female", "birthDate": "1961-02-29",
		},
		{
			"resourceType": "Condition", "id": "c1", "subject": subject,
			"clinicalStatus": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}}},
			"code":           map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "44054006"}}, "text": "Diabetes mellitus type 2 (note QZV-8812)"},
		},
		{
			"resourceType": "Observation", "id": "o1", "status": "final", "subject": subject,
			"category":      []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}}}},
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "4548-4"}}, "text": "HbA1c"},
			"valueQuantity": map[string]any{"value": 7.9, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
		},
		{
			"resourceType": "Observation", "id": "o2", "status": "final", "subject": subject,
			"category":      []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}},
			"code":          map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": "8867-4"}}, "text": "Heart rate"},
			"valueQuantity": map[string]any{"value": 71, "unit": "beats/minute", "system": "http://unitsofmeasure.org", "code": "/min"},
		},
		{
			"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order", "subject": subject,
			"medicationCodeableConcept": map[string]any{"text": "Metformin 500 mg (lot WRX-5530)"},
			"dosageInstruction":         []any{map[string]any{"text": "1 tablet twice daily with meals"}},
		},
		{
			"resourceType": "AllergyIntolerance", "id": "a1", "patient": subject,
			"code":        map[string]any{"text": "Penicillin (reaction ref PNQ-2207)"},
			"criticality": "high",
		},
		{
			"resourceType": "Immunization", "id": "i1", "status": "completed", "patient": subject,
			"vaccineCode":        map[string]any{"coding": []any{map[string]any{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}}},
			"occurrenceDateTime": "2025-10-03",
		},
		{
			"resourceType": "Procedure", "id": "pr1", "status": "completed", "subject": subject,
			"code": map[string]any{"text": "Retinal screening (room KJH-3391)"},
		},
		{
			"resourceType": "DiagnosticReport", "id": "d1", "status": "final", "subject": subject,
			"category": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}}}},
			"code":     map[string]any{"text": "Diabetes panel"},
			"result":   []any{map[string]any{"reference": "Observation/o1"}},
		},
		{
			"resourceType": "Encounter", "id": "e1", "status": "finished", "subject": subject,
			"class": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		},
	}
	entries := make([]any, len(resources))
	for i, r := range resources {
		entries[i] = map[string]any{"fullUrl": fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i), "resource": r}
	}
	raw, err := json.MarshalIndent(map[string]any{"resourceType": "Bundle", "type": bundleType, "entry": entries}, "", " ")
	if err != nil {
		panic(err)
	}
	return raw, resources
}

// fhirSecrets are distinctive strings of the fixture that must never appear in
// the node's or the vault's data.
var fhirSecrets = []string{"MRN-QX48-ZZ901", "Kowalczyk-Abernathy", "QZV-8812", "WRX-5530", "PNQ-2207", "KJH-3391"}

// TestFHIRRoundTrip: a hospital imports a multi-resource R4 patient Bundle, and
// the patient exports it back: every resource is there, unchanged, each read is
// a receipt, a reader with a narrower consent gets only its classes, and
// nothing readable reaches the node or the vault.
func TestFHIRRoundTrip(t *testing.T) {
	n := network.StartNode(t)
	v := network.StartVault(t, n)
	alice, hospital, lab := n.Address("alice"), n.Address("hospital"), n.Address("lab")
	dir := t.TempDir()
	kr := []string{"--keyring-backend", "test"}
	share := func(grantee, classes, perms string) {
		grants := strings.Fields(n.CLI(append([]string{"records", "key-grants", grantee, "--classes", classes, "--from", "alice"}, kr...)...))
		args := append([]string{
			"tx", "consent", "grant", grantee, "--classes", classes, "--purposes", "TREAT", "--permissions", perms,
			"--expires", "720h", "--from", "alice", "--yes",
		}, grants...)
		if len(grants) > 4 { // eight key grants need more than the default 200,000 gas, and the error says what to do
			if res := n.Exec(args...); res.ExitCode == 0 || !strings.Contains(res.Stderr, "run it again with --gas auto") {
				t.Fatalf("a grant over the default gas: exit %d, %s", res.ExitCode, res.Stderr)
			}
		}
		n.CLI(append(args, "--gas", "auto", "--gas-adjustment", "1.5")...)
	}

	// bad input is refused before anything is uploaded or committed
	bad := map[string]string{
		"not-json.json":   `{"resourceType": "Bundle", `,
		"not-bundle.json": `{"resourceType": "Observation", "status": "final"}`,
		"history.json":    `{"resourceType": "Bundle", "type": "history", "entry": [{"resource": {"resourceType": "Patient"}}]}`,
		"empty.json":      `{"resourceType": "Bundle", "type": "collection", "entry": []}`,
		"no-type.json":    `{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"id": "x"}}]}`,
	}
	want := map[string]string{
		"not-json.json": "not valid JSON", "not-bundle.json": "not a FHIR Bundle", "history.json": `Bundle type "history" cannot be imported`,
		"empty.json": "no entries", "no-type.json": "entry 0 has no resource with a valid resourceType",
	}
	for name, body := range bad {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		res := n.Exec(append([]string{"fhir", "import", f, "--patient", alice, "--vault", v.URL, "--from", "hospital"}, kr...)...)
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, want[name]) {
			t.Fatalf("%s: exit %d, stderr %q; want %q", name, res.ExitCode, res.Stderr, want[name])
		}
	}
	raw, resources := fhirPatientBundle("collection")
	bundleFile := filepath.Join(dir, "bundle.json")
	if err := os.WriteFile(bundleFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	// without a write consent the hospital is told so, and nothing is committed
	res := n.Exec(append([]string{"fhir", "import", bundleFile, "--patient", alice, "--vault", v.URL, "--from", "hospital"}, kr...)...)
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "nothing was imported") || !strings.Contains(res.Stderr, "ACCESS_REASON_NO_CONSENT") {
		t.Fatalf("import without consent: exit %d, %s", res.ExitCode, res.Stderr)
	}
	if recs := recordsOf(t, n, alice); len(recs) != 0 {
		t.Fatalf("a refused import committed %d records", len(recs))
	}

	// given alice lets the hospital read and write every class the Bundle uses
	classes := "diagnosis,lab-result,vital-signs,prescription,allergy,immunization,procedure,other"
	share(hospital, classes, "read,write")

	// when the hospital imports the Bundle
	var imported struct {
		Committed []struct {
			Index        int    `json:"index"`
			ResourceType string `json:"resource_type"`
			DataClass    string `json:"data_class"`
			RecordID     uint64 `json:"record_id"`
		} `json:"committed"`
	}
	n.CLIJSON(&imported, append([]string{"fhir", "import", bundleFile, "--patient", alice, "--vault", v.URL, "--from", "hospital"}, kr...)...)
	// and the client learned of its commits from the node's block events
	// (a websocket subscription), not by polling for each transaction
	if !n.LogContains("Subscribe to query", "NewBlock") {
		t.Fatal("the import did not subscribe to the node's NewBlock events")
	}

	// then every resource is one record, with its class mapped from its type
	wantClass := []string{"other", "diagnosis", "lab-result", "vital-signs", "prescription", "allergy", "immunization", "procedure", "lab-result", "other"}
	if len(imported.Committed) != len(resources) {
		t.Fatalf("imported %d records, want %d: %+v", len(imported.Committed), len(resources), imported)
	}
	onChain := map[string]recordView{}
	for _, r := range recordsOf(t, n, alice) {
		onChain[r.ID] = r
	}
	for i, c := range imported.Committed {
		r, ok := onChain[fmt.Sprint(c.RecordID)]
		if c.Index != i || c.DataClass != wantClass[i] || c.ResourceType != resources[i]["resourceType"] || !ok {
			t.Fatalf("resource %d: %+v (on chain: %v), want class %s", i, c, ok, wantClass[i])
		}
		if r.DataClass != wantClass[i] || r.FHIRType != resources[i]["resourceType"] || r.Author != hospital {
			t.Fatalf("record %d on chain: %+v", c.RecordID, r)
		}
	}

	// when alice exports her records, every resource comes back unchanged
	exportFile := filepath.Join(dir, "export.json")
	var exported struct {
		Exported int              `json:"exported"`
		NotRead  []map[string]any `json:"not_read"`
	}
	n.CLIJSON(&exported, append([]string{"fhir", "export", "--out", exportFile, "--from", "alice"}, kr...)...)
	if exported.Exported != len(resources) || len(exported.NotRead) != 0 {
		t.Fatalf("alice exported %+v", exported)
	}
	assertSameResources(t, exportFile, alice, resources)

	// and the lab, allowed lab-result and vital-signs only, gets just those; the
	// others take no receipt and are listed as not read
	share(lab, "lab-result,vital-signs", "read")
	before := len(receiptsOf(t, n, alice))
	labFile := filepath.Join(dir, "lab.json")
	n.CLIJSON(&exported, append([]string{"fhir", "export", "--patient", alice, "--out", labFile, "--from", "lab"}, kr...)...)
	var labWant []map[string]any
	for i, r := range resources {
		if wantClass[i] == "lab-result" || wantClass[i] == "vital-signs" {
			labWant = append(labWant, r)
		}
	}
	if exported.Exported != len(labWant) || len(exported.NotRead) != len(resources)-len(labWant) {
		t.Fatalf("lab exported %+v, want %d read and %d not", exported, len(labWant), len(resources)-len(labWant))
	}
	if !strings.Contains(fmt.Sprint(exported.NotRead[0]["reason"]), "ACCESS_REASON_NOT_COVERED") {
		t.Fatalf("not-read reason: %v", exported.NotRead[0])
	}
	assertSameResources(t, labFile, alice, labWant)
	receipts := receiptsOf(t, n, alice)
	if len(receipts)-before != len(labWant) {
		t.Fatalf("the lab's export took %d receipts, want %d", len(receipts)-before, len(labWant))
	}
	for _, r := range receipts[before:] {
		if r.Accessor != lab || r.Purpose != "TREAT" {
			t.Fatalf("receipt %+v", r)
		}
	}

	// and when lab's published key is not the one its keyring derives (here: it
	// publishes clinic's), a new grant made to it cannot open, and lab is told why
	otherKey := filepath.Join(dir, "clinic.key")
	n.CLI(append([]string{"keys", "encryption-key", "clinic", "--out-file", otherKey}, kr...)...)
	n.CLI("tx", "providers", "update", "--encryption-key", otherKey, "--from", "lab", "--yes")
	share(lab, "immunization", "read")
	res = n.Exec(append([]string{"fhir", "export", "--patient", alice, "--out", filepath.Join(dir, "lab2.json"), "--from", "lab"}, kr...)...)
	if !strings.Contains(res.Stdout, "published on chain for "+lab+" is not the one this keyring derives") {
		t.Fatalf("export with a mismatched published key: exit %d\n%s\n%s", res.ExitCode, res.Stdout, res.Stderr)
	}

	// and no plaintext reached the node's or the vault's data
	for _, needle := range fhirSecrets {
		for _, d := range []string{n.Home, v.Data} {
			if f := findInTree(t, d, needle); f != "" {
				t.Fatalf("plaintext %q found in %s", needle, f)
			}
		}
	}
}

// assertSameResources checks that file is an R4 collection Bundle whose
// resources are want, in order, each semantically equal (JSON, not bytes).
//
// An import names the Bundle's own Patient by the patient's account, not by
// the id it had in the Bundle (issue #30): where want references a Patient
// (the fixtures' only one), the export must hold the neutral reference to
// patient.
func assertSameResources(t *testing.T, file, patient string, want []map[string]any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			Resource map[string]any `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "collection" {
		t.Fatalf("%s is not a collection Bundle: %v\n%s", file, err, data)
	}
	if len(b.Entry) != len(want) {
		t.Fatalf("%s has %d entries, want %d", file, len(b.Entry), len(want))
	}
	for i, w := range want {
		// the fixture went through JSON once; compare both as decoded JSON
		var norm map[string]any
		wb, _ := json.Marshal(w)
		wb, err := fhir.RewriteReferences(wb, func(ref map[string]any, _ string) map[string]any {
			if _, ok := fhir.PatientID(fmt.Sprint(ref["reference"])); ok {
				return fhir.PatientReference(patient, ref["display"])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(wb, &norm)
		if !reflect.DeepEqual(b.Entry[i].Resource, norm) {
			t.Fatalf("entry %d changed:\n got %v\nwant %v", i, b.Entry[i].Resource, norm)
		}
	}
}

// recordsOf lists a patient's records in id order over REST.
func recordsOf(t *testing.T, n *network.Node, patient string) []recordView {
	t.Helper()
	var resp struct {
		Records []recordView `json:"records"`
	}
	if err := n.GetJSON("/healthd/records/v1/patients/"+patient+"/records?pagination.limit=1000", &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Records
}

// receiptsOf lists a patient's access receipts over REST, oldest first.
func receiptsOf(t *testing.T, n *network.Node, patient string) []receiptView {
	t.Helper()
	var resp struct {
		Receipts []receiptView `json:"receipts"`
	}
	if err := n.GetJSON("/healthd/records/v1/patients/"+patient+"/receipts?pagination.limit=1000", &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Receipts
}
