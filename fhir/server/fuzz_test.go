package server

import (
	"encoding/json"
	"testing"

	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// FuzzMapping: the mapping between FHIR resources and chain records, on
// input from both sides — a resource an EHR sends (which patient it names,
// through the MRN table, references and bundle-internal ids) and a record's
// decrypted content a vault returns (rendered with the server's id, version
// and meta, and stripped of them again). Never a panic; what is presented is
// JSON whose id is the record's chain id.
func FuzzMapping(f *testing.F) {
	h := newHarness(f)
	f.Add([]byte(obs), "Observation", "urn:uuid:1")
	f.Add([]byte(`{"resourceType":"Patient","identifier":[{"system":"`+MRNSystem+`","value":"`+mrn+`"}]}`), "Patient", "")
	f.Add([]byte(`{"resourceType":"Condition","subject":{"reference":"urn:uuid:1"},"meta":{"versionId":"3"},"id":"x"}`), "Condition", "urn:uuid:1")
	f.Fuzz(func(t *testing.T, raw []byte, typ, uuid string) {
		var res map[string]any
		if json.Unmarshal(raw, &res) == nil {
			_, _, _ = h.srv.resolvePatient(typ, res, map[string]string{uuid: mrn})
			_, _ = h.srv.patientMRN(res)
		}
		out, err := present(raw, version{rec: recordstypes.Record{Id: 7}, origin: 7, n: 2})
		if err == nil {
			var shown map[string]any
			if json.Unmarshal(out, &shown) != nil || shown["id"] != "7" {
				t.Fatalf("presented %q as %q", raw, out)
			}
		}
		_ = withoutServerElements(raw)
	})
}
