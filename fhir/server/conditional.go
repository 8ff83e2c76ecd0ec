package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/healthd-chain/healthd/client/agent"
)

// Writes are idempotent two ways (docs/fhir.md, "Retries and conditional
// create"):
//
//   - Every create is sealed under keys derived from this organization's
//     filing secret and the resource's bytes (agent.CreateAll), so a create
//     retried after its answer was lost (a single POST, a whole transaction or
//     batch Bundle) makes the same content hash as the record already on
//     chain: it files nothing and answers 200 with the first one's location.
//   - A conditional create (If-None-Exist, request.ifNoneExist) on identifier
//     finds the resources of that type this organization filed for the
//     patient with that identifier; one is the answer (200), two are a 412.
//     The chain holds no identifier, so finding them reads those records (a
//     receipt each, for the token's purpose, in the patient's log).

// filingScope is the scope within which a create is a retry
// (crypto.Source.Scope): the Idempotency-Key the EHR sent, by client; else a
// Bundle's exact bytes (a retried Bundle is the same bytes); else, for a
// single create without a key, a random one, so two identical resources
// posted on purpose are two records (use If-None-Exist or Idempotency-Key to
// retry those safely).
func filingScope(q *request, bundle []byte) [32]byte {
	if k := q.r.Header.Get("Idempotency-Key"); k != "" {
		return sha256.Sum256([]byte("healthd/idempotency-key\x00" + q.grant.ClientID + "\x00" + k))
	}
	if bundle != nil {
		return sha256.Sum256(append([]byte("healthd/bundle\x00"), bundle...))
	}
	var s [32]byte
	_, _ = rand.Read(s[:])
	return s
}

// mayMatch checks that a conditional create's token may read typ: matching
// reads the resources (and answers with the match), which a create-only
// scope does not allow.
func mayMatch(q *request, typ string) error {
	if q.grant.Allows(typ, 'r') {
		return nil
	}
	return fmt.Errorf("If-None-Exist reads the matching %s resources: the access token's scopes must allow read on %s (system/%s.r)", typ, typ, typ)
}

// errPreconditionFailed is an If-None-Exist that matches more than one
// resource.
var errPreconditionFailed = errors.New("precondition failed")

// condition is a parsed If-None-Exist: the identifier searched for.
type condition struct {
	system, value string
	anySystem     bool
}

// parseCondition reads an If-None-Exist value (a search query: identifier=
// [system]|value, or identifier=value for any system).
func parseCondition(raw string) (condition, error) {
	raw = strings.TrimPrefix(strings.TrimSpace(raw), "?")
	if _, q, ok := strings.Cut(raw, "?"); ok { // Type?identifier=… as some clients send
		raw = q
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return condition{}, fmt.Errorf("If-None-Exist %q is not a search query: %w", raw, err)
	}
	for k := range vals {
		if k != "identifier" {
			return condition{}, fmt.Errorf("If-None-Exist searches identifier only (identifier=system|value), not %q: "+
				"the chain holds no other content to search", k)
		}
	}
	if len(vals["identifier"]) != 1 || vals.Get("identifier") == "" {
		return condition{}, errors.New("If-None-Exist needs one identifier=system|value")
	}
	id := vals.Get("identifier")
	sys, val, ok := strings.Cut(id, "|")
	if !ok {
		return condition{value: id, anySystem: true}, nil
	}
	if val == "" {
		return condition{}, errors.New("If-None-Exist: the identifier has no value")
	}
	return condition{system: sys, value: val}, nil
}

// matches reports whether a served resource carries the identifier.
func (c condition) matches(body []byte) bool {
	var r struct {
		Identifier []struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	}
	if json.Unmarshal(body, &r) != nil {
		return false
	}
	for _, id := range r.Identifier {
		if id.Value == c.value && (c.anySystem || id.System == c.system) {
			return true
		}
	}
	return false
}

// found is an existing resource a conditional create matched.
type found struct {
	v    version
	body json.RawMessage // as served
}

// findExisting returns the one resource of type typ that this organization
// filed for patient with the condition's identifier, nil if none, or
// errPreconditionFailed if several.
func (s *Server) findExisting(ctx context.Context, q *request, typ, patient string, c condition) (*found, error) {
	me := s.agent.Address()
	vs, err := s.activeVersions(ctx, patient, func(v version) bool {
		return v.rec.FhirResourceType == typ && v.rec.Author == me
	})
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	bodies, errs, err := s.readVersions(ctx, vs, q.grant.Purpose)
	if err != nil {
		return nil, err
	}
	var hit *found
	for i, v := range vs {
		if errs[i] != nil {
			var ns *notServable
			if errors.As(errs[i], &ns) {
				continue
			}
			// a resource it cannot read might be the match: fail closed
			return nil, errs[i]
		}
		if c.matches(bodies[i]) {
			if hit != nil {
				return nil, errPreconditionFailed
			}
			hit = &found{v, bodies[i]}
		}
	}
	return hit, nil
}

// ifNoneExist answers a create's If-None-Exist: ok false when it has
// answered (a bad condition, a failure, several matches), else the match (nil
// for none: go on and create).
func (s *Server) ifNoneExist(w http.ResponseWriter, q *request, typ, patient, raw string) (*found, bool) {
	if err := mayMatch(q, typ); err != nil {
		writeOutcome(w, http.StatusForbidden, issue("forbidden", err.Error()))
		return nil, false
	}
	c, err := parseCondition(raw)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, issue("not-supported", err.Error()))
		return nil, false
	}
	hit, err := s.findExisting(q.r.Context(), q, typ, patient, c)
	switch {
	case errors.Is(err, errPreconditionFailed):
		writeOutcome(w, http.StatusPreconditionFailed, issue("duplicate", "If-None-Exist matches more than one resource"))
		return nil, false
	case err != nil:
		failure(w, err)
		return nil, false
	}
	return hit, true
}

// createdVersion is the version a create filed, or, for a resource filed
// before, the version of the record that has its content (walking back to
// the resource's origin, whose id is the FHIR id).
func (s *Server) createdVersion(ctx context.Context, typ string, c agent.Created) (version, error) {
	rec, err := s.agent.Record(ctx, c.ID)
	if err != nil {
		return version{}, err
	}
	v := version{rec, rec.Id, 1}
	for prev := rec.Supersedes; prev != 0 && v.n < 10_000; v.n++ {
		older, err := s.agent.Record(ctx, prev)
		if err != nil {
			return version{}, err
		}
		v.origin, prev = older.Id, older.Supersedes
	}
	if rec.FhirResourceType != typ {
		return version{}, fmt.Errorf("record %d is a %s, not a %s", rec.Id, rec.FhirResourceType, typ)
	}
	return v, nil
}

// respondExisting answers a create whose resource exists: 200 with its
// location (a retried create, or a conditional create that matched).
func (s *Server) respondExisting(w http.ResponseWriter, q *request, typ string, f found) {
	s.respondBody(w, q.r, http.StatusOK, typ, f.v, f.body)
}

// existingResponse is a Bundle entry's response for a resource that exists.
func existingResponse(typ string, v version) *entryResponse {
	return &entryResponse{Status: "200 OK", Location: fmt.Sprintf("%s/%d/_history/%d", typ, v.origin, v.n), Etag: etag(v.n)}
}
