// Package fhir maps HL7 FHIR R4 content to healthd's records: which data
// class a resource belongs to, and the part of a Bundle that import and
// export read and write. It knows nothing of the chain or the vault; the
// client (client/agent) does the encrypting, uploading and committing.
package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// importableBundleTypes are the Bundle types whose entries are resources to keep.
var importableBundleTypes = []string{"document", "collection", "transaction", "searchset", "batch"}

var resourceTypeRE = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)

// ClassOfResource maps a FHIR R4 resource to a healthd data class.
func ClassOfResource(resourceType string, resource []byte) string {
	categoryHas := func(words ...string) bool {
		var r struct {
			Category json.RawMessage `json:"category"`
		}
		_ = json.Unmarshal(resource, &r)
		c := strings.ToLower(string(r.Category))
		for _, w := range words {
			if strings.Contains(c, w) {
				return true
			}
		}
		return false
	}
	switch resourceType {
	case "Condition":
		return "diagnosis"
	case "Observation":
		if categoryHas("vital-signs") {
			return "vital-signs"
		}
		return "lab-result"
	case "DiagnosticReport":
		if categoryHas("imaging", `"rad"`) {
			return "imaging"
		}
		return "lab-result"
	case "MedicationRequest", "MedicationStatement", "MedicationDispense", "MedicationAdministration":
		return "prescription"
	case "AllergyIntolerance":
		return "allergy"
	case "Immunization":
		return "immunization"
	case "Procedure":
		return "procedure"
	case "ImagingStudy":
		return "imaging"
	case "DocumentReference", "Composition", "ClinicalImpression":
		return "clinical-note"
	default: // Patient, Encounter, Practitioner, …
		return "other"
	}
}

// BundleEntry is one entry of a Bundle: its resource, kept as raw JSON.
type BundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource"`
}

// Bundle is the part of a FHIR R4 Bundle that import and export use.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Entry        []BundleEntry `json:"entry"`
}

// Parsed is a Bundle checked for import: each resource (raw JSON, kept byte
// for byte) with its resource type and data class, in the Bundle's order.
type Parsed struct {
	Types     []string
	Classes   []string
	Resources []json.RawMessage
	// FilingScope is the scope within which filing these resources again is
	// a retry (crypto.Source.Scope): zero for the CLI's import, whose re-run
	// files only what is missing whatever Bundle it came in.
	FilingScope [32]byte

	// patients counts the Bundle's Patient entries; patientRefs are the fullUrls of the Bundle's Patient entries, and
	// patientIDs their resource ids (see NeutralizePatient).
	patients    int
	patientRefs map[string]bool
	patientIDs  map[string]bool
}

// Len is the number of resources.
func (p *Parsed) Len() int { return len(p.Resources) }

// ParseBundle reads an R4 Bundle and returns its resources with their types and
// classes. Any problem is reported before anything is uploaded.
func ParseBundle(raw []byte) (*Parsed, error) {
	var b Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if b.ResourceType != "Bundle" {
		return nil, fmt.Errorf("not a FHIR Bundle (resourceType %q)", b.ResourceType)
	}
	if !slices.Contains(importableBundleTypes, b.Type) {
		return nil, fmt.Errorf("Bundle type %q cannot be imported: want one of %s", b.Type, strings.Join(importableBundleTypes, ", "))
	}
	if len(b.Entry) == 0 {
		return nil, errors.New("the Bundle has no entries")
	}
	p := &Parsed{}
	for i, e := range b.Entry {
		var r struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		}
		if len(e.Resource) == 0 || json.Unmarshal(e.Resource, &r) != nil || !resourceTypeRE.MatchString(r.ResourceType) {
			return nil, fmt.Errorf("entry %d has no resource with a valid resourceType", i)
		}
		if r.ResourceType == "Patient" {
			p.patients++
			if p.patientRefs == nil {
				p.patientRefs, p.patientIDs = map[string]bool{}, map[string]bool{}
			}
			if e.FullURL != "" {
				p.patientRefs[e.FullURL] = true
			}
			if r.ID != "" {
				p.patientIDs[r.ID] = true
			}
		}
		p.Types = append(p.Types, r.ResourceType)
		p.Classes = append(p.Classes, ClassOfResource(r.ResourceType, e.Resource))
		p.Resources = append(p.Resources, e.Resource)
	}
	return p, nil
}
