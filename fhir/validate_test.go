package fhir

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateAcceptsValidResources(t *testing.T) {
	for _, raw := range []string{
		`{"resourceType":"Observation","status":"final","code":{"text":"HbA1c"},"subject":{"reference":"Patient/MRN-1"},
		  "valueQuantity":{"value":7.9,"unit":"%"},"_status":{"extension":[{"url":"http://example.org/x","valueString":"y"}]}}`,
		`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"MRN-1"}],"gender":"female","birthDate":"1961-02-28"}`,
		`{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"},
		  "medicationCodeableConcept":{"text":"Metformin"}}`,
		`{"resourceType":"Condition","subject":{"reference":"Patient/1"},"contained":[{"resourceType":"Practitioner","id":"p"}]}`,
	} {
		typ, issues := Validate([]byte(raw))
		require.Empty(t, issues, raw)
		require.NotEmpty(t, typ)
	}
}

func TestValidateReportsEachViolationWithItsPath(t *testing.T) {
	cases := []struct {
		name, raw, code, expr string
	}{
		{"bad JSON", `{"resourceType":`, "structure", ""},
		{"unknown type", `{"resourceType":"Observaton"}`, "not-supported", "resourceType"},
		{"no type", `{"status":"final"}`, "not-supported", "resourceType"},
		{"required missing", `{"resourceType":"Observation","status":"final"}`, "required", "Observation.code"},
		{"required code missing", `{"resourceType":"Observation","code":{"text":"x"}}`, "required", "Observation.status"},
		{"code outside the required value set", `{"resourceType":"Observation","status":"done","code":{"text":"x"}}`, "code-invalid", "Observation.status"},
		{"unknown element", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"colour":"red"}`, "structure", "Observation.colour"},
		{"nested unknown element", `{"resourceType":"Observation","status":"final","code":{"txt":"x"}}`, "structure", "Observation.code.txt"},
		{"string for an array", `{"resourceType":"Observation","status":"final","code":{"coding":"x"}}`, "structure", "Observation.code.coding"},
		{"number for a string", `{"resourceType":"Observation","status":"final","code":{"text":5}}`, "structure", "Observation.code.text"},
		{"string for a number", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"7"}}`, "structure", "Observation.valueQuantity.value"},
		{"null", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"issued":null}`, "structure", "Observation.issued"},
		{"empty array", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"category":[]}`, "structure", "Observation.category"},
		{"empty string", `{"resourceType":"Observation","status":"final","code":{"text":""}}`, "value", "Observation.code.text"},
		{"array index in path", `{"resourceType":"Observation","status":"final","code":{"coding":[{"code":"a"},{"cod":"b"}]}}`, "structure", "Observation.code.coding[1].cod"},
		{"required choice missing", `{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/1"}}`, "required", "MedicationRequest.medication[x]"},
		{"bad gender", `{"resourceType":"Patient","gender":"F"}`, "code-invalid", "Patient.gender"},
		{"bad contained", `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"contained":[{"resourceType":"Nope"}]}`, "not-supported", "Condition.contained[0].resourceType"},
		{"integer", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueInteger":1.5}`, "value", "Observation.valueInteger"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, issues := Validate([]byte(c.raw))
			require.NotEmpty(t, issues)
			found := false
			for _, i := range issues {
				if i.Code == c.code && i.Expression == c.expr {
					found = true
				}
			}
			require.True(t, found, "want %s at %q, got %v", c.code, c.expr, issues)
		})
	}
}

func TestValidateBundleEntries(t *testing.T) {
	b := map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": []any{
		map[string]any{"resource": map[string]any{"resourceType": "Observation", "status": "final"}, "request": map[string]any{"method": "POST", "url": "Observation"}},
	}}
	raw, err := json.Marshal(b)
	require.NoError(t, err)
	_, issues := Validate(raw)
	require.Equal(t, []Issue{{"required", "Bundle.entry[0].resource.code", "required element missing (min 1)"}}, issues)
}

// The synthetic patients the benchmarks and tests import are valid R4.
func TestSyntheticBundleIsValid(t *testing.T) {
	raw, err := SyntheticBundle(300, 7)
	require.NoError(t, err)
	_, issues := Validate(raw)
	require.Empty(t, issues)
}

// Nesting and the number of issues are bounded: a small body cannot make the
// validator build a huge answer.
func TestValidateLimits(t *testing.T) {
	deep := `{"url":"http://x","valueString":"y"}`
	for range 500 {
		deep = `{"extension":[` + deep + `]}` // each level misses its url too
	}
	_, issues := Validate([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"extension":[` + deep + `]}`))
	require.LessOrEqual(t, len(issues), MaxIssues+1)
	found := false
	for _, i := range issues {
		found = found || i.Code == "too-costly"
	}
	require.True(t, found, issues)
	var many strings.Builder
	many.WriteString(`{"resourceType":"Observation","status":"final","code":{"text":"x"}`)
	for i := range 1000 {
		fmt.Fprintf(&many, `,"x%d":1`, i)
	}
	many.WriteString("}")
	_, issues = Validate([]byte(many.String()))
	require.Len(t, issues, MaxIssues+1)
}
