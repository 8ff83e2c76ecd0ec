package fhir

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// SyntheticBundle returns a made-up patient's history as an R4 collection
// Bundle of n resources (n ≥ 1): one Patient, then encounters, each with the
// vital signs, lab results, conditions, medications, procedures, immunizations,
// allergies, reports and notes a visit produces, in the proportions of a real
// record (mostly observations). The values are random but reproducible from
// seed, and name no real person. It is the benchmark bundle of
// docs/benchmarks.md (`healthd-bench -fhir`).
func SyntheticBundle(n int, seed uint64) ([]byte, error) {
	if n < 1 {
		return nil, fmt.Errorf("a bundle of %d resources", n)
	}
	g := synth{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), day: time.Date(2001, 3, 14, 9, 30, 0, 0, time.UTC)}
	resources := []map[string]any{g.patient()}
	for len(resources) < n {
		resources = append(resources, g.visit()...)
	}
	resources = resources[:n]
	entries := make([]map[string]any, len(resources))
	for i, r := range resources {
		entries[i] = map[string]any{"fullUrl": fmt.Sprintf("urn:uuid:5e7e0000-0000-4000-8000-%012d", i), "resource": r}
	}
	return json.Marshal(map[string]any{
		"resourceType": "Bundle", "type": "collection", "timestamp": "2026-12-01T00:00:00Z", "entry": entries,
	})
}

// synth draws the resources of one synthetic history.
type synth struct {
	rng *rand.Rand
	day time.Time
	ids int
}

var subject = map[string]any{"reference": "Patient/synthetic-1"}

func (g *synth) id(prefix string) string {
	g.ids++
	return fmt.Sprintf("%s-%d", prefix, g.ids)
}

func (g *synth) pick(options []coded) coded { return options[g.rng.IntN(len(options))] }

// coded is a code of a code system with its display text.
type coded struct{ system, code, text string }

func (c coded) concept() map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": c.system, "code": c.code, "display": c.text}}, "text": c.text}
}

func category(system, code string) []any {
	return []any{map[string]any{"coding": []any{map[string]any{"system": system, "code": code}}}}
}

const (
	loinc      = "http://loinc.org"
	snomed     = "http://snomed.info/sct"
	obsCat     = "http://terminology.hl7.org/CodeSystem/observation-category"
	ucum       = "http://unitsofmeasure.org"
	rxnorm     = "http://www.nlm.nih.gov/research/umls/rxnorm"
	cvx        = "http://hl7.org/fhir/sid/cvx"
	diagServic = "http://terminology.hl7.org/CodeSystem/v2-0074"
)

// measure is a quantity a visit records: its code, unit and plausible range.
type measure struct {
	c          coded
	unit       string
	lo, spread float64
}

var (
	vitals = []measure{
		{coded{loinc, "8867-4", "Heart rate"}, "/min", 55, 40},
		{coded{loinc, "9279-1", "Respiratory rate"}, "/min", 12, 8},
		{coded{loinc, "8310-5", "Body temperature"}, "Cel", 36.1, 1.8},
		{coded{loinc, "29463-7", "Body weight"}, "kg", 58, 30},
		{coded{loinc, "8480-6", "Systolic blood pressure"}, "mm[Hg]", 105, 45},
		{coded{loinc, "59408-5", "Oxygen saturation"}, "%", 92, 8},
	}
	labs = []measure{
		{coded{loinc, "4548-4", "Hemoglobin A1c"}, "%", 4.8, 4},
		{coded{loinc, "2345-7", "Glucose"}, "mg/dL", 70, 90},
		{coded{loinc, "2160-0", "Creatinine"}, "mg/dL", 0.6, 1.2},
		{coded{loinc, "718-7", "Hemoglobin"}, "g/dL", 11, 6},
		{coded{loinc, "2093-3", "Cholesterol"}, "mg/dL", 140, 120},
		{coded{loinc, "6690-2", "Leukocytes"}, "10*3/uL", 3.5, 8},
	}
	conditions = []coded{
		{snomed, "44054006", "Diabetes mellitus type 2"},
		{snomed, "38341003", "Hypertensive disorder"},
		{snomed, "195967001", "Asthma"},
		{snomed, "55822004", "Hyperlipidemia"},
		{snomed, "10509002", "Acute bronchitis"},
	}
	medications = []coded{
		{rxnorm, "860975", "Metformin 500 MG Oral Tablet"},
		{rxnorm, "314076", "Lisinopril 10 MG Oral Tablet"},
		{rxnorm, "617312", "Atorvastatin 40 MG Oral Tablet"},
		{rxnorm, "745679", "Albuterol 0.09 MG/ACTUAT Inhaler"},
	}
	procedures = []coded{
		{snomed, "73761001", "Colonoscopy"}, {snomed, "252416005", "Retinal screening"}, {snomed, "430193006", "Medication reconciliation"},
	}
	vaccines  = []coded{{cvx, "140", "Influenza, seasonal"}, {cvx, "115", "Tdap"}, {cvx, "208", "COVID-19, mRNA"}}
	allergens = []coded{{snomed, "91936005", "Penicillin allergy"}, {snomed, "300913006", "Shellfish allergy"}}
)

func (g *synth) patient() map[string]any {
	return map[string]any{
		"resourceType": "Patient", "id": "synthetic-1", "gender": "female", "birthDate": "1961-02-28",
		"name":       []any{map[string]any{"family": "Synthetic", "given": []any{"Test"}}},
		"identifier": []any{map[string]any{"system": "urn:example:mrn", "value": "SYN-0001"}},
	}
}

// visit is one encounter and what it produced, dated a few weeks after the
// previous one.
func (g *synth) visit() []map[string]any {
	g.day = g.day.Add(time.Duration(7+g.rng.IntN(40)) * 24 * time.Hour)
	when := g.day.Format(time.RFC3339)
	enc := g.id("enc")
	ref := map[string]any{"reference": "Encounter/" + enc}
	out := []map[string]any{{
		"resourceType": "Encounter", "id": enc, "status": "finished", "subject": subject,
		"class":  map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"period": map[string]any{"start": when, "end": g.day.Add(40 * time.Minute).Format(time.RFC3339)},
	}}
	observation := func(cat string, c coded, unit string, lo, spread float64) map[string]any {
		v := float64(int((lo+g.rng.Float64()*spread)*10)) / 10
		return map[string]any{
			"resourceType": "Observation", "id": g.id("obs"), "status": "final", "subject": subject, "encounter": ref,
			"category": category(obsCat, cat), "code": c.concept(), "effectiveDateTime": when,
			"valueQuantity": map[string]any{"value": v, "unit": unit, "system": ucum, "code": unit},
		}
	}
	for _, v := range vitals[:3+g.rng.IntN(len(vitals)-2)] {
		out = append(out, observation("vital-signs", v.c, v.unit, v.lo, v.spread))
	}
	var results []any
	for i := g.rng.IntN(4); i > 0; i-- {
		l := labs[g.rng.IntN(len(labs))]
		o := observation("laboratory", l.c, l.unit, l.lo, l.spread)
		bound := func(f float64) map[string]any {
			return map[string]any{"value": float64(int((l.lo+f*l.spread)*10)) / 10, "unit": l.unit, "system": ucum, "code": l.unit}
		}
		o["referenceRange"] = []any{map[string]any{"low": bound(0.15), "high": bound(0.7)}}
		results = append(results, map[string]any{"reference": "Observation/" + o["id"].(string)})
		out = append(out, o)
	}
	if len(results) > 0 {
		out = append(out, map[string]any{
			"resourceType": "DiagnosticReport", "id": g.id("dr"), "status": "final", "subject": subject, "encounter": ref,
			"category": category(diagServic, "LAB"), "code": coded{loinc, "24323-8", "Metabolic panel"}.concept(),
			"effectiveDateTime": when, "result": results,
		})
	}
	if g.rng.IntN(3) == 0 {
		out = append(out, map[string]any{
			"resourceType": "Condition", "id": g.id("cond"), "subject": subject, "encounter": ref, "recordedDate": when,
			"clinicalStatus": coded{"http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"}.concept(),
			"code":           g.pick(conditions).concept(),
		})
	}
	if g.rng.IntN(3) == 0 {
		out = append(out, map[string]any{
			"resourceType": "MedicationRequest", "id": g.id("med"), "status": "active", "intent": "order", "subject": subject,
			"encounter": ref, "authoredOn": when, "medicationCodeableConcept": g.pick(medications).concept(),
			"dosageInstruction": []any{map[string]any{"text": fmt.Sprintf("%d tablet(s) %s daily", 1+g.rng.IntN(2), []string{"once", "twice"}[g.rng.IntN(2)])}},
		})
	}
	switch g.rng.IntN(10) {
	case 0:
		out = append(out, map[string]any{
			"resourceType": "Procedure", "id": g.id("proc"), "status": "completed", "subject": subject, "encounter": ref,
			"performedDateTime": when, "code": g.pick(procedures).concept(),
		})
	case 1:
		out = append(out, map[string]any{
			"resourceType": "Immunization", "id": g.id("imm"), "status": "completed", "patient": subject, "encounter": ref,
			"occurrenceDateTime": when, "vaccineCode": g.pick(vaccines).concept(),
		})
	case 2:
		out = append(out, map[string]any{
			"resourceType": "AllergyIntolerance", "id": g.id("alg"), "patient": subject, "recordedDate": when,
			"criticality": "high", "code": g.pick(allergens).concept(),
		})
	case 3:
		out = append(out, map[string]any{
			"resourceType": "DocumentReference", "id": g.id("doc"), "status": "current", "subject": subject, "date": when,
			"type": coded{loinc, "11506-3", "Progress note"}.concept(),
			"content": []any{map[string]any{"attachment": map[string]any{
				"contentType": "text/plain", "data": "U3ludGhldGljIHByb2dyZXNzIG5vdGUu", // "Synthetic progress note."
			}}},
		})
	}
	return out
}
