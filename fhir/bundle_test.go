package fhir

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

func TestClassOfResource(t *testing.T) {
	tests := []struct {
		resource string
		want     string
	}{
		{`{"resourceType":"Condition"}`, "diagnosis"},
		{`{"resourceType":"Observation","category":[{"coding":[{"code":"laboratory"}]}]}`, "lab-result"},
		{`{"resourceType":"Observation","category":[{"coding":[{"code":"vital-signs"}]}]}`, "vital-signs"},
		{`{"resourceType":"Observation"}`, "lab-result"},
		{`{"resourceType":"DiagnosticReport","category":[{"coding":[{"code":"LAB"}]}]}`, "lab-result"},
		{`{"resourceType":"DiagnosticReport","category":[{"coding":[{"code":"RAD"}]}]}`, "imaging"},
		{`{"resourceType":"DiagnosticReport","category":[{"coding":[{"code":"imaging"}]}]}`, "imaging"},
		{`{"resourceType":"MedicationRequest"}`, "prescription"},
		{`{"resourceType":"MedicationStatement"}`, "prescription"},
		{`{"resourceType":"AllergyIntolerance"}`, "allergy"},
		{`{"resourceType":"Immunization"}`, "immunization"},
		{`{"resourceType":"Procedure"}`, "procedure"},
		{`{"resourceType":"ImagingStudy"}`, "imaging"},
		{`{"resourceType":"DocumentReference"}`, "clinical-note"},
		{`{"resourceType":"Composition"}`, "clinical-note"},
		{`{"resourceType":"Patient"}`, "other"},
		{`{"resourceType":"Encounter"}`, "other"},
		{`{"resourceType":"Practitioner"}`, "other"},
	}
	for _, tc := range tests {
		var r struct{ ResourceType string }
		if err := json.Unmarshal([]byte(tc.resource), &r); err != nil {
			t.Fatal(err)
		}
		got := ClassOfResource(r.ResourceType, []byte(tc.resource))
		if got != tc.want {
			t.Errorf("%s: class %q, want %q", tc.resource, got, tc.want)
		}
		if !slices.Contains(consenttypes.DataClasses, got) {
			t.Errorf("%s: %q is not a data class the chain knows", tc.resource, got)
		}
	}
}

func TestParseBundle(t *testing.T) {
	entries := `[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"p"}},` +
		`{"resource":{"resourceType":"Condition","id":"c","code":{"text":"x"}},"request":{"method":"POST","url":"Condition"}}]`
	for _, typ := range []string{"document", "collection", "transaction", "searchset", "batch"} {
		p, err := ParseBundle([]byte(`{"resourceType":"Bundle","type":"` + typ + `","entry":` + entries + `}`))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if !slices.Equal(p.Types, []string{"Patient", "Condition"}) || !slices.Equal(p.Classes, []string{"other", "diagnosis"}) {
			t.Fatalf("%s: types %v classes %v", typ, p.Types, p.Classes)
		}
		// each resource is kept byte for byte, without its entry wrapper
		if string(p.Resources[1]) != `{"resourceType":"Condition","id":"c","code":{"text":"x"}}` {
			t.Fatalf("%s: resource %s", typ, p.Resources[1])
		}
	}

	refused := []struct {
		name, bundle, want string
	}{
		{"truncated JSON", `{"resourceType":"Bundle",`, "not valid JSON"},
		{"a JSON array", `[]`, "not valid JSON"},
		{"not a Bundle", `{"resourceType":"Observation"}`, `not a FHIR Bundle (resourceType "Observation")`},
		{"history Bundle", `{"resourceType":"Bundle","type":"history","entry":` + entries + `}`, `type "history" cannot be imported`},
		{"no type", `{"resourceType":"Bundle","entry":` + entries + `}`, `type "" cannot be imported`},
		{"no entries", `{"resourceType":"Bundle","type":"collection"}`, "no entries"},
		{"entry without resource", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"DELETE","url":"Patient/1"}}]}`, "entry 0 has no resource"},
		{"resource without type", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"id":"x"}}]}`, "entry 0 has no resource"},
		{"lower-case type", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"patient"}}]}`, "entry 0 has no resource"},
		{"second entry bad", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},{"resource":"x"}]}`, "entry 1 has no resource"},
	}
	for _, tc := range refused {
		_, err := ParseBundle([]byte(tc.bundle))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSyntheticBundle(t *testing.T) {
	raw, err := SyntheticBundle(3500, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 3500 || p.Types[0] != "Patient" {
		t.Fatalf("%d resources, first %s", p.Len(), p.Types[0])
	}
	perClass := map[string]int{}
	for _, c := range p.Classes {
		perClass[c]++
	}
	// every class the mapping gives a visit's resources appears
	for _, c := range []string{"other", "vital-signs", "lab-result", "diagnosis", "prescription", "procedure", "immunization", "allergy", "clinical-note"} {
		if perClass[c] == 0 {
			t.Errorf("no %s resource in %v", c, perClass)
		}
	}
	again, _ := SyntheticBundle(3500, 1)
	if string(again) != string(raw) {
		t.Fatal("the same seed gave another bundle")
	}
	if _, err := SyntheticBundle(0, 1); err == nil {
		t.Fatal("a bundle of 0 resources")
	}
}

func TestNeutralizePatient(t *testing.T) {
	raw := []byte(`{"resourceType":"Bundle","type":"collection","entry":[` +
		`{"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"syn-1","identifier":[{"value":"MRN-1"}]}},` +
		`{"fullUrl":"urn:uuid:o","resource":{"resourceType":"Observation","subject":{"reference":"urn:uuid:p","display":"Y. K."},` +
		`"encounter":{"reference":"urn:uuid:e"},"valueQuantity":{"value":1.50}}},` +
		`{"resource":{"resourceType":"Condition","subject":{"reference":"Patient/syn-1"},"asserter":{"reference":"Patient/other"}}}]}`)
	p, err := ParseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.NeutralizePatient("health1alice"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		// the Patient itself is kept as it is
		`{"resourceType":"Patient","id":"syn-1","identifier":[{"value":"MRN-1"}]}`,
		// its references name her account; other references and the number as written are kept
		`{"encounter":{"reference":"urn:uuid:e"},"resourceType":"Observation","subject":{"display":"Y. K.","identifier":{"system":"urn:healthd:account","value":"health1alice"},"type":"Patient"},"valueQuantity":{"value":1.50}}`,
		`{"asserter":{"reference":"Patient/other"},"resourceType":"Condition","subject":{"identifier":{"system":"urn:healthd:account","value":"health1alice"},"type":"Patient"}}`,
	}
	for i, w := range want {
		if string(p.Resources[i]) != w {
			t.Fatalf("resource %d:\n got %s\nwant %s", i, p.Resources[i], w)
		}
	}
}

func TestNeutralizePatientRefusesTwoPatients(t *testing.T) {
	// a mother and her newborn: filed for one, the other's data would be hers
	p, err := ParseBundle([]byte(`{"resourceType":"Bundle","type":"collection","entry":[` +
		`{"resource":{"resourceType":"Patient","id":"mother"}},{"resource":{"resourceType":"Patient","id":"newborn"}},` +
		`{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/newborn"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.NeutralizePatient("health1alice"); err == nil || !strings.Contains(err.Error(), "2 Patient entries") {
		t.Fatalf("a Bundle of two patients: %v", err)
	}
}
