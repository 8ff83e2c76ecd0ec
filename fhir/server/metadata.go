package server

import (
	"time"

	"github.com/healthd-chain/healthd/fhir"
)

// startedAt dates the CapabilityStatement.
var startedAt = time.Now().UTC().Format(time.RFC3339)

// capabilityStatement is GET /metadata: exactly what this server does.
func (s *Server) capabilityStatement() map[string]any {
	metaParams := []any{
		param("patient", "reference", "The patient (Patient/MRN or MRN). Required: a search is always about one patient."),
		param("_id", "token", "The resource ids (comma-separated)."),
		param("_lastUpdated", "date", "When the current version was committed (block time), with eq, ne, gt, ge, lt, le."),
		param("category", "token", "The healthd data class (lab-result, vital-signs, diagnosis, …), or laboratory, vital-signs, LAB, RAD, imaging."),
		param("_count", "number", "Page size (default 50, at most 500); _count=0 or _summary=count gives the total only, reading nothing. Matches this organization may not read (the chain's decision, no receipt) are neither counted nor paged."),
	}
	var resources []any
	for _, t := range fhir.ResourceTypes() {
		if serverTypes[t] || t == "Patient" {
			continue
		}
		resources = append(resources, map[string]any{
			"type": t,
			"documentation": "Each resource is one encrypted record of the patient it references. Search matches chain metadata " +
				"only (no receipt); every resource returned is a read recorded by an access receipt. Other search parameters " +
				"(code, date, value, …) are refused with 400: the content is encrypted, and filtering on it would read every record.",
			"interaction":       interactions("read", "vread", "create", "update", "search-type"),
			"versioning":        "versioned",
			"readHistory":       true,
			"updateCreate":      false,
			"conditionalCreate": false,
			"conditionalUpdate": false,
			"conditionalDelete": "not-supported",
			"searchParam":       metaParams,
		})
	}
	resources = append([]any{
		map[string]any{
			"type":          "Patient",
			"documentation": "Patient ids are the hospital's MRNs, mapped to chain accounts by this server's local table. Patient resources are not stored: read returns the MRN only, create (or a Patient entry in a Bundle) names a known patient (200, Location Patient/MRN); $everything returns the Patient and every record this organization may read.",
			"interaction":   interactions("read", "create"),
			"operation": []any{map[string]any{
				"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
			}},
		},
		map[string]any{
			"type":          "Consent",
			"documentation": "The patient's consents on the chain (read-only; no receipt). Status active, proposed (not started) or inactive (revoked, expired).",
			"interaction":   interactions("search-type"),
			"searchParam":   []any{param("patient", "reference", "The patient. Required.")},
		},
		map[string]any{
			"type":          "AuditEvent",
			"documentation": "Every access receipt of the patient's records (IHE BALP Read), and the custodians' emergency key releases.",
			"interaction":   interactions("search-type"),
			"searchParam":   []any{param("patient", "reference", "The patient. Required.")},
		},
		map[string]any{
			"type":          "Provenance",
			"documentation": "One per version of a resource: author, block time, height and transaction.",
			"interaction":   interactions("search-type"),
			"searchParam":   []any{param("target", "reference", "The resource (Type/id). Required.")},
		},
	}, resources...)
	return map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         startedAt,
		"publisher":    "healthd",
		"kind":         "instance",
		"software":     map[string]any{"name": "healthd fhir serve"},
		"implementation": map[string]any{
			"description": "healthd: health records on a consortium chain, encrypted off chain",
			"url":         s.opts.BaseURL,
		},
		"fhirVersion": "4.0.1",
		"format":      []any{"application/fhir+json", "json"},
		"rest": []any{map[string]any{
			"mode": "server",
			"documentation": "Access: SMART Backend Services (client_credentials with a signed JWT assertion); the purpose of use is " +
				"fixed per token (purpose_of_use at the token endpoint; default the client's first, or TREAT). Consent is decided by the chain: " +
				"a refusal is 403 with the chain's reason. DELETE is not supported: erasure is the patient's own act. " +
				"A transaction Bundle creates records only (POST entries), all or nothing; a batch may also amend (PUT).",
			"security": map[string]any{
				"service": []any{map[string]any{"coding": []any{map[string]any{
					"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR",
				}}}},
				"extension": []any{map[string]any{
					"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
					"extension": []any{
						map[string]any{"url": "token", "valueUri": s.opts.BaseURL + "/token"},
					},
				}},
			},
			"resource":    resources,
			"interaction": interactions("transaction", "batch"),
		}},
	}
}

func param(name, typ, doc string) map[string]any {
	return map[string]any{"name": name, "type": typ, "documentation": doc}
}

func interactions(codes ...string) []any {
	out := make([]any, len(codes))
	for i, c := range codes {
		out[i] = map[string]any{"code": c}
	}
	return out
}
