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
// (fhir.PatientReference). On the way out, every reference to a Patient
// becomes Patient/<this server's MRN> for her, whatever the record holds
// (the neutral form, or the filer's own Patient/MRN in a record filed
// elsewhere or before this rule); an account the table does not know is
// served in the neutral form.

// neutralize returns raw with every reference to the patient mrn (of account
// addr) in the neutral form.
func (s *Server) neutralize(raw []byte, mrn, addr string, uuids map[string]string) ([]byte, error) {
	return fhir.RewriteReferences(raw, func(ref map[string]any) map[string]any {
		if r, ok := ref["reference"].(string); ok {
			id, ours := s.patientRef(r)
			if (ours && id == mrn) || (uuids != nil && uuids[r] == mrn) {
				return fhir.PatientReference(addr, ref["display"])
			}
			return nil
		}
		if id, ok := ref["identifier"].(map[string]any); ok {
			sys, _ := id["system"].(string)
			if v, _ := id["value"].(string); v == mrn && slices.Contains(s.opts.MRNSystems, sys) {
				return fhir.PatientReference(addr, ref["display"])
			}
		}
		return nil
	})
}

// served returns a stored resource of patient's record with every reference
// to a Patient as this server names her.
func (s *Server) served(plain []byte, patient string) ([]byte, error) {
	return fhir.RewriteReferences(plain, func(ref map[string]any) map[string]any {
		if !fhir.IsPatientReference(ref) {
			return nil
		}
		who := patient
		if a, ok := fhir.ReferencedAccount(ref); ok {
			who = a
		}
		mrn, ok := s.opts.Patients.MRN(who)
		if !ok {
			return fhir.PatientReference(who, ref["display"])
		}
		out := map[string]any{"reference": "Patient/" + mrn}
		if d, ok := ref["display"]; ok {
			out["display"] = d
		}
		return out
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
