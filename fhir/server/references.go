package server

import (
	"encoding/json"
	"slices"

	"github.com/healthd-chain/healthd/fhir"
)

// What a record names its patient by, and what this server serves.
//
// An MRN means something only inside the hospital that assigned it: in
// another hospital the same string may be another person. So no MRN leaves
// the hospital inside a record. On the way in, every reference to the
// record's patient (Patient/MRN, BASE/Patient/MRN, the urn:uuid of a Bundle's
// Patient entry, a logical reference by one of this server's MRN
// identifiers) becomes the organization-neutral reference to her account
// (fhir.PatientReference). On the way out, the server names by its own MRN
// only the record's patient, whom the chain vouches for:
//
//   - a neutral reference to the record's patient, and a literal or logical
//     Patient reference in the resource's own subject or patient element (a
//     record filed elsewhere, or before this rule, names the filer's MRN
//     there), become Patient/<this server's MRN for her>;
//   - a neutral reference to another account stays neutral: what a writer
//     put in the content is not the chain's word, and mapping it to a local
//     MRN could file this record in that person's chart;
//   - any other literal or logical Patient reference (a mother's Patient in
//     a newborn's Observation, another server's id) keeps only its display:
//     its id names nobody here, and guessing would mis-chart.
//
// A patient this server's table does not know is served in the neutral form.

// neutralize returns raw with every reference to the patient mrn (of account
// addr) in the neutral form.
func (s *Server) neutralize(raw []byte, mrn, addr string, uuids map[string]string) ([]byte, error) {
	return fhir.RewriteReferences(raw, func(ref map[string]any, _ string) map[string]any {
		if r, ok := ref["reference"].(string); ok {
			id, ours := s.patientRef(r)
			if (ours && id == mrn) || (uuids != nil && uuids[r] == mrn) {
				return fhir.Replacing(ref, fhir.PatientReference(addr, ref["display"]))
			}
			return nil
		}
		if id, ok := ref["identifier"].(map[string]any); ok {
			sys, _ := id["system"].(string)
			if v, _ := id["value"].(string); v == mrn && slices.Contains(s.opts.MRNSystems, sys) {
				return fhir.Replacing(ref, fhir.PatientReference(addr, ref["display"]))
			}
		}
		return nil
	})
}

// served returns a stored resource of patient's record with its references
// to Patients as this server names them (see above).
func (s *Server) served(plain []byte, patient string) ([]byte, error) {
	ours := func(display any) map[string]any {
		mrn, ok := s.opts.Patients.MRN(patient)
		if !ok {
			return fhir.PatientReference(patient, display)
		}
		out := map[string]any{"reference": "Patient/" + mrn}
		if display != nil {
			out["display"] = display
		}
		return out
	}
	return fhir.RewriteReferences(plain, func(ref map[string]any, top string) map[string]any {
		if !fhir.IsPatientReference(ref) {
			return nil
		}
		if a, ok := fhir.ReferencedAccount(ref); ok {
			if a != patient {
				return nil
			}
			return fhir.Replacing(ref, ours(ref["display"]))
		}
		// the resource's own subject and patient elements name the record's
		// patient; anywhere else a literal reference names someone unknown here
		if top == "subject" || top == "patient" {
			return fhir.Replacing(ref, ours(ref["display"]))
		}
		out := map[string]any{"type": "Patient"}
		if d, ok := ref["display"]; ok {
			out["display"] = d
		}
		return fhir.Replacing(ref, out)
	})
}

// serveResource is the resource of version v as served (see present), its
// references to Patients named by this server's MRNs.
func (s *Server) serveResource(plain []byte, v version) (json.RawMessage, error) {
	if out, err := s.served(plain, v.rec.Patient); err == nil {
		plain = out
	}
	return present(plain, v)
}
