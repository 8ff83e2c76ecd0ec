package fhir

import (
	"encoding/json"
	"testing"
)

func TestSummarize(t *testing.T) {
	cases := []struct {
		name, raw                       string
		typ, title, value, date, status string
	}{
		{
			"lab result with unit", `{"resourceType":"Observation","status":"final","category":[{"coding":[{"code":"laboratory"}]}],
			"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},
			"effectiveDateTime":"2024-05-02T08:00:00Z","valueQuantity":{"value":7.9,"unit":"%"},
			"referenceRange":[{"low":{"value":4.0,"unit":"%"},"high":{"value":5.6,"unit":"%"}}]}`,
			"Observation", "Hemoglobin A1c", "7.9 %", "2024-05-02T08:00:00Z", "final",
		},
		{
			"condition, partial onset date", `{"resourceType":"Condition","clinicalStatus":{"coding":[{"code":"active"}]},
			"code":{"text":"Asthma"},"onsetDateTime":"2019"}`,
			"Condition", "Asthma", "", "2019", "active",
		},
		{
			"medication with dosage", `{"resourceType":"MedicationRequest","status":"active","intent":"order",
			"medicationCodeableConcept":{"coding":[{"display":"Metformin 500 MG Oral Tablet"}]},"authoredOn":"2023-01-10",
			"dosageInstruction":[{"text":"1 tablet twice daily"}]}`,
			"MedicationRequest", "Metformin 500 MG Oral Tablet", "1 tablet twice daily", "2023-01-10", "active",
		},
		{
			"immunization", `{"resourceType":"Immunization","status":"completed","vaccineCode":{"text":"Tdap"},
			"occurrenceDateTime":"2022-10-01","patient":{"reference":"Patient/1"}}`,
			"Immunization", "Tdap", "", "2022-10-01", "completed",
		},
		{
			"allergy", `{"resourceType":"AllergyIntolerance","criticality":"high","code":{"text":"Penicillin allergy"},
			"recordedDate":"2010-06-01","patient":{"reference":"Patient/1"}}`,
			"AllergyIntolerance", "Penicillin allergy", "high criticality", "2010-06-01", "",
		},
		{
			"procedure over a period", `{"resourceType":"Procedure","status":"completed","code":{"text":"Colonoscopy"},
			"performedPeriod":{"start":"2021-03-04T10:00:00Z"},"subject":{"reference":"Patient/1"}}`,
			"Procedure", "Colonoscopy", "", "2021-03-04T10:00:00Z", "completed",
		},
		{
			"document with a text attachment", `{"resourceType":"DocumentReference","status":"current","type":{"text":"Progress note"},
			"date":"2020-02-02T00:00:00Z","content":[{"attachment":{"contentType":"text/plain","data":"U3ludGhldGljIHByb2dyZXNzIG5vdGUu"}}]}`,
			"DocumentReference", "Progress note", "", "2020-02-02T00:00:00Z", "current",
		},
		{
			"a status its model refuses keeps its type", `{"resourceType":"Observation","status":"bogus","code":{"text":"X"}}`,
			"Observation", "Observation", "", "", "",
		},
		{"not a resource", `{"hello":1}`, "", "Not a FHIR resource", "", "", ""},
		{"not JSON", `%PDF-1.7`, "", "Not a FHIR resource", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Summarize([]byte(c.raw))
			if s.Type != c.typ || s.Title != c.title || s.Value != c.value || s.Date != c.date || s.Status != c.status {
				t.Fatalf("got %+v", s)
			}
		})
	}
	doc := Summarize([]byte(cases[6].raw))
	if doc.Attachment == nil || doc.Attachment.Text != "Synthetic progress note." || doc.Attachment.Size != 24 {
		t.Fatalf("attachment: %+v", doc.Attachment)
	}
	lab := Summarize([]byte(cases[0].raw))
	want := map[string]string{"Test": "Hemoglobin A1c", "Value": "7.9 %", "Reference range": "4.0 – 5.6 %", "Category": "laboratory"}
	for _, f := range lab.Fields {
		if w, ok := want[f.Label]; ok && w != f.Value {
			t.Fatalf("field %s = %q, want %q", f.Label, f.Value, w)
		}
		delete(want, f.Label)
	}
	if len(want) != 0 || lab.Code != "http://loinc.org|4548-4" {
		t.Fatalf("missing fields %v; code %q", want, lab.Code)
	}
}

// TestSummarizeSyntheticBundle: every resource of the benchmark history has
// a title and a clinical date (the Patient has no date).
func TestSummarizeSyntheticBundle(t *testing.T) {
	raw, err := SyntheticBundle(400, 7)
	if err != nil {
		t.Fatal(err)
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, e := range b.Entry {
		s := Summarize(e.Resource)
		types[s.Type]++
		if s.Title == "" || s.Title == s.Type || s.Date == "" && s.Type != "Patient" {
			t.Fatalf("%s", e.Resource)
		}
	}
	if len(types) < 9 {
		t.Fatalf("resource types: %v", types)
	}
}
