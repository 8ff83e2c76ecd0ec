package server

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/healthd-chain/healthd/fhir"
)

func TestNeutralizeAndServePatientReferences(t *testing.T) {
	h := newHarness(t)
	s := h.srv
	// given an Observation of the patient mrn, referenced every way an EHR may
	in := `{"resourceType":"Observation","status":"final","code":{"text":"K"},` +
		`"subject":{"reference":"Patient/` + mrn + `","display":"Ysolde K."},` +
		`"performer":[{"reference":"` + base + `/Patient/` + mrn + `/_history/2"},{"reference":"Practitioner/p9"}],` +
		`"focus":[{"reference":"urn:uuid:abc"}],` +
		`"basedOn":[{"type":"Patient","identifier":{"system":"` + MRNSystem + `","value":"` + mrn + `"}}],` +
		`"valueQuantity":{"value":6.10,"unit":"mmol/L"}}`

	// when the server stores it
	stored, err := s.neutralize([]byte(in), mrn, addr1, map[string]string{"urn:uuid:abc": mrn})
	require.NoError(t, err)

	// then no MRN is left, every reference to her names her account, the
	// rest (a practitioner, a number as written, the display) is kept
	require.NotContains(t, string(stored), mrn)
	var r map[string]any
	require.NoError(t, json.Unmarshal(stored, &r))
	neutral := fhir.PatientReference(addr1, nil)
	withDisplay := fhir.PatientReference(addr1, "Ysolde K.")
	require.Equal(t, withDisplay, r["subject"])
	require.Equal(t, []any{neutral, map[string]any{"reference": "Practitioner/p9"}}, r["performer"])
	require.Equal(t, []any{neutral}, r["focus"])
	require.Equal(t, []any{neutral}, r["basedOn"])
	require.Contains(t, string(stored), `"value":6.10`)

	// and it is served with this server's MRN for her
	served, err := s.served(stored, addr1)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(served, &r))
	require.Equal(t, map[string]any{"reference": "Patient/" + mrn, "display": "Ysolde K."}, r["subject"])
	require.Equal(t, map[string]any{"reference": "Practitioner/p9"}, r["performer"].([]any)[1])
}

func TestServedNamesTheReadersMRN(t *testing.T) {
	s := newHarness(t).srv
	neutral := func(a string) string {
		return `{"type":"Patient","identifier":{"system":"urn:healthd:account","value":"` + a + `"}}`
	}
	cases := []struct {
		name, element, ref, patient, want string
	}{
		// a record filed elsewhere, or before the neutral form, names the filer's MRN
		{"another organization's literal MRN as subject", "subject", `{"reference":"Patient/000123"}`, addr2, `{"reference":"Patient/` + mrn2 + `"}`},
		{"an absolute reference as patient", "patient", `{"reference":"https://b.example/fhir/Patient/000123","display":"B."}`, addr2, `{"reference":"Patient/` + mrn2 + `","display":"B."}`},
		{"a logical reference by another system as subject", "subject", `{"type":"Patient","identifier":{"system":"urn:b:mrn","value":"000123"}}`, addr1, `{"reference":"Patient/` + mrn + `"}`},
		{"the neutral form of the record's patient", "focus", neutral(addr1), addr1, `{"reference":"Patient/` + mrn + `"}`},
		{"the record's patient unknown here stays neutral", "subject", neutral("health1unknown"), "health1unknown", neutral("health1unknown")},
		// what the chain does not vouch for is never mapped to a local MRN
		{"a neutral reference to another account stays neutral", "subject", neutral(addr2), addr1, neutral(addr2)},
		{"a literal Patient elsewhere keeps only its display", "focus", `{"reference":"https://b.example/fhir/Patient/77","display":"mother","extension":[{"url":"u","valueString":"x"}]}`, addr1, `{"type":"Patient","display":"mother","extension":[{"url":"u","valueString":"x"}]}`},
		{"not a patient", "subject", `{"reference":"Group/g1"}`, addr1, `{"reference":"Group/g1"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := s.served([]byte(`{"resourceType":"Observation","`+c.element+`":`+c.ref+`}`), c.patient)
			require.NoError(t, err)
			var got map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(out, &got))
			require.JSONEq(t, c.want, string(got[c.element]))
		})
	}
}

func TestParseCondition(t *testing.T) {
	cases := []struct {
		in      string
		want    condition
		wantErr string
	}{
		{"identifier=urn:x|A-1", condition{system: "urn:x", value: "A-1"}, ""},
		{"identifier=A-1", condition{value: "A-1", anySystem: true}, ""},
		{"Observation?identifier=urn:x|A-1", condition{system: "urn:x", value: "A-1"}, ""},
		{"identifier=urn%3Ax%7CA-1", condition{system: "urn:x", value: "A-1"}, ""},
		{"code=1234", condition{}, "identifier only"},
		{"identifier=urn:x|", condition{}, "no value"},
		{"identifier=a&identifier=b", condition{}, "one identifier"},
		{"", condition{}, "one identifier"},
	}
	for _, c := range cases {
		got, err := parseCondition(c.in)
		if c.wantErr != "" {
			require.ErrorContains(t, err, c.wantErr, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
		require.True(t, got.matches([]byte(`{"identifier":[{"system":"urn:y","value":"B"},{"system":"urn:x","value":"A-1"}]}`)), c.in)
		require.False(t, got.matches([]byte(`{"identifier":[{"system":"urn:y","value":"A-1"}]}`)) && !got.anySystem, c.in)
	}
}
