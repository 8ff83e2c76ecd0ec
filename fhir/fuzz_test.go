package fhir

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzParseBundle: the FHIR Bundle an EHR or a patient imports. ParseBundle
// must refuse bad input with an error, never panic; what it accepts has one
// type and one class per resource, each class the one ClassOfResource gives.
func FuzzParseBundle(f *testing.F) {
	for _, n := range []int{1, 5} {
		b, err := SyntheticBundle(n, uint64(n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","entry":[{}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParseBundle(raw)
		if err != nil {
			return
		}
		if len(p.Types) != p.Len() || len(p.Classes) != p.Len() {
			t.Fatalf("%d resources, %d types, %d classes", p.Len(), len(p.Types), len(p.Classes))
		}
		for i, res := range p.Resources {
			if !json.Valid(res) {
				t.Fatalf("resource %d is not JSON", i)
			}
			if c := ClassOfResource(p.Types[i], res); c != p.Classes[i] {
				t.Fatalf("resource %d: class %q, ClassOfResource says %q", i, p.Classes[i], c)
			}
		}
	})
}

// FuzzValidate: the FHIR R4 validation of one resource (the FHIR server's
// create and update, the import): issues or none, never a panic, and a
// resource without issues is JSON of a known type.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"HbA1c"},"valueQuantity":{"value":6.1,"unit":"%"}}`))
	f.Add([]byte(`{"resourceType":"Patient","contained":[{"resourceType":"Organization","name":"x"}],"extension":[{"url":"u","extension":[{"url":"v","valueString":"s"}]}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Condition","subject":{"reference":"Patient/1"}}}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		typ, issues := Validate(raw)
		if len(issues) == 0 && (!json.Valid(raw) || !KnownResourceType(typ)) {
			t.Fatalf("accepted %q as a valid %q", raw, typ)
		}
	})
}

// FuzzSummarize: the portal's summary of a decrypted record, whatever its
// author put in it. Summarize never panics, always has a title, and its
// text is valid UTF-8 (the page shows it as text).
func FuzzSummarize(f *testing.F) {
	b, err := SyntheticBundle(60, 3)
	if err != nil {
		f.Fatal(err)
	}
	p, err := ParseBundle(b)
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range p.Resources {
		f.Add([]byte(r))
	}
	f.Add([]byte(`{"resourceType":"DocumentReference","content":[{"attachment":{"contentType":"text/plain","data":"/w=="}}]}`))
	f.Add([]byte(`{"resourceType":"Observation","valueQuantity":{"value":1e999,"comparator":"<"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := Summarize(raw)
		if s.Title == "" {
			t.Fatalf("no title for %q", raw)
		}
		if s.Attachment != nil && !utf8.ValidString(s.Attachment.Text) {
			t.Fatalf("attachment text is not UTF-8")
		}
	})
}
