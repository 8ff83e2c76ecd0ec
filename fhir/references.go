package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// AccountSystem is the identifier system of the organization-neutral
// reference to a patient: her chain account. A record names its patient so,
// never by an organization's MRN: an MRN means something only in the
// hospital that assigned it, and in another one it may name another person.
// A FHIR server serves such a reference as Patient/<its own MRN>.
const AccountSystem = "urn:healthd:account"

// PatientReference is the organization-neutral Reference to the patient of
// chain account addr, keeping display (a name is content, encrypted with the
// record; an identifier is not kept).
func PatientReference(addr string, display any) map[string]any {
	ref := map[string]any{"type": "Patient", "identifier": map[string]any{"system": AccountSystem, "value": addr}}
	if display != nil {
		ref["display"] = display
	}
	return ref
}

// Replacing returns ref, the Reference that replaces old, with old's id and
// extensions kept (what the filer attached to the reference, not to whom it
// points).
func Replacing(old, ref map[string]any) map[string]any {
	for _, k := range []string{"id", "extension"} {
		if v, ok := old[k]; ok {
			ref[k] = v
		}
	}
	return ref
}

// ReferencedAccount returns the account an organization-neutral Reference
// names.
func ReferencedAccount(ref map[string]any) (string, bool) {
	id, ok := ref["identifier"].(map[string]any)
	if !ok || id["system"] != AccountSystem {
		return "", false
	}
	v, ok := id["value"].(string)
	return v, ok && v != ""
}

// PatientID returns the id of a literal reference to a Patient: Patient/X,
// Patient/X/_history/n, or the same under any base URL (http://h/fhir/Patient/X).
func PatientID(ref string) (string, bool) {
	rest, ok := strings.CutPrefix(ref, "Patient/")
	if !ok {
		i := strings.Index(ref, "/Patient/")
		if i < 0 || !strings.Contains(ref[:i], "://") {
			return "", false
		}
		rest = ref[i+len("/Patient/"):]
	}
	id, _, _ := strings.Cut(rest, "/")
	return id, id != ""
}

// IsPatientReference reports whether a Reference points at a Patient: a
// literal Patient reference, the neutral form, or a logical reference
// (identifier only) whose type is Patient.
func IsPatientReference(ref map[string]any) bool {
	if s, ok := ref["reference"].(string); ok {
		_, ok := PatientID(s)
		return ok
	}
	if _, ok := ReferencedAccount(ref); ok {
		return true
	}
	_, hasID := ref["identifier"].(map[string]any)
	return hasID && ref["type"] == "Patient"
}

// RewriteReferences calls fn on every Reference of a resource (every object
// with a string reference, or an identifier and a type: contained resources
// included) and puts what fn returns in its place (nil keeps it). top is the
// element's name when the Reference is the value of one of the resource's own
// top-level elements (subject, patient), else "". It returns raw unchanged,
// byte for byte, when fn changed nothing; otherwise the resource re-encoded
// (keys sorted, numbers as written).
func RewriteReferences(raw []byte, fn func(ref map[string]any, top string) map[string]any) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if !rewrite(v, fn, true) {
		return raw, nil
	}
	var out bytes.Buffer
	e := json.NewEncoder(&out)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}

func rewrite(v any, fn func(map[string]any, string) map[string]any, root bool) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if m, ok := e.(map[string]any); ok && isReference(m) {
				top := ""
				if root {
					top = k
				}
				if r := fn(m, top); r != nil {
					x[k], changed = r, true
					continue
				}
			}
			if rewrite(e, fn, false) {
				changed = true
			}
		}
	case []any:
		for i, e := range x {
			if m, ok := e.(map[string]any); ok && isReference(m) {
				if r := fn(m, ""); r != nil {
					x[i], changed = r, true
					continue
				}
			}
			if rewrite(e, fn, false) {
				changed = true
			}
		}
	}
	return changed
}

// isReference reports whether an object is shaped like a Reference.
func isReference(m map[string]any) bool {
	if _, ok := m["resourceType"]; ok {
		return false
	}
	if _, ok := m["reference"].(string); ok {
		return true
	}
	_, ok := m["identifier"].(map[string]any)
	return ok && (m["type"] != nil || m["display"] != nil || len(m) == 1)
}

// NeutralizePatient replaces, in every resource of the Bundle, each reference
// to the Bundle's own Patient entry (its fullUrl, Patient/id, or
// base/Patient/id) with the neutral reference to the patient's account addr,
// so no identifier of the Bundle's origin (an EHR's MRN or resource id)
// names the patient inside the records. References to other Patients, and
// the Patient resource itself, are kept as they are. A Bundle with several
// Patient entries (a mother and her newborn) is refused: it is not one
// patient's, and filing it for one would chart the other's data as hers.
func (p *Parsed) NeutralizePatient(addr string) error {
	if p.patients > 1 {
		return fmt.Errorf("the Bundle has %d Patient entries: a Bundle is filed for one patient, so split it", p.patients)
	}
	if len(p.patientRefs) == 0 && len(p.patientIDs) == 0 {
		return nil
	}
	for i, r := range p.Resources {
		out, err := RewriteReferences(r, func(ref map[string]any, _ string) map[string]any {
			s, _ := ref["reference"].(string)
			if !p.patientRefs[s] {
				if id, ok := PatientID(s); !ok || !p.patientIDs[id] {
					return nil
				}
			}
			return Replacing(ref, PatientReference(addr, ref["display"]))
		})
		if err == nil {
			p.Resources[i] = out
		}
	}
	return nil
}
