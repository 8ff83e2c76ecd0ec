package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/fhir"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// serverTypes are the resource types the server makes from chain state; they
// are never stored as records.
var serverTypes = map[string]bool{
	"Consent": true, "AuditEvent": true, "Provenance": true, "OperationOutcome": true, "Bundle": true,
	"CapabilityStatement": true, "Parameters": true,
}

func knownType(t string) bool { return fhir.KnownResourceType(t) }

func positiveInt(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatUint(n, 10) == s
}

// version is one record of an amendment chain: the resource's version
// number n (1 for the first record).
type version struct {
	rec    recordstypes.Record
	origin uint64
	n      int
}

// allowed checks the token's scopes, before anything reaches the chain.
func allowed(w http.ResponseWriter, q *request, typ string, interaction byte) bool {
	if q.grant.Allows(typ, interaction) {
		return true
	}
	writeOutcome(w, http.StatusForbidden, issue("forbidden", fmt.Sprintf(
		"the access token's scopes do not allow %s on %s (ask for system/%s.%c)", interactionName[interaction], typ, typ, interaction)))
	return false
}

var interactionName = map[byte]string{'c': "create", 'r': "read", 'u': "update", 'd': "delete", 's': "search"}

// readBody reads and validates a resource body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, string, bool) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeOutcome(w, http.StatusRequestEntityTooLarge, issue("too-costly", fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit)))
			return nil, "", false
		}
		writeOutcome(w, http.StatusBadRequest, issue("structure", "reading the body: "+err.Error()))
		return nil, "", false
	}
	typ, found := fhir.Validate(raw)
	if len(found) > 0 {
		writeOutcome(w, http.StatusBadRequest, validationIssues("", found)...)
		return nil, "", false
	}
	return raw, typ, true
}

// patientRef extracts the patient id of a reference to this server's
// patients: Patient/X, Patient/X/_history/n, or the same under the server's
// base URL. A reference to another server's Patient (https://other/fhir/Patient/X,
// common in referral content) is not one of ours: its id is another
// organization's, and matching it to an MRN here could name another person.
func (s *Server) patientRef(ref string) (string, bool) {
	if !strings.HasPrefix(ref, "Patient/") && !strings.HasPrefix(ref, s.opts.BaseURL+"/Patient/") {
		return "", false
	}
	return fhir.PatientID(ref)
}

// foreignPatientRef reports an absolute reference to a Patient elsewhere.
func (s *Server) foreignPatientRef(ref string) bool {
	_, ours := s.patientRef(ref)
	return !ours && strings.Contains(ref, "/Patient/") && strings.Contains(ref, "://")
}

// patientsReferenced collects the patient ids (MRNs) a resource references:
// every Reference to Patient/X, and every urn:uuid reference that is the
// fullUrl of a Patient entry of the same Bundle (uuids). A reference to a
// Patient of another server is collected as foreign.
func (s *Server) patientsReferenced(v any, uuids map[string]string, out map[string]bool, foreign *int) {
	switch x := v.(type) {
	case map[string]any:
		if acct, ok := fhir.ReferencedAccount(x); ok { // the neutral form, as a record holds it
			if mrn, ok := s.opts.Patients.MRN(acct); ok {
				out[mrn] = true
			} else {
				*foreign++
			}
		}
		if ref, ok := x["reference"].(string); ok {
			if id, ok := s.patientRef(ref); ok {
				out[id] = true
			} else if mrn, ok := uuids[ref]; ok {
				out[mrn] = true
			} else if s.foreignPatientRef(ref) {
				*foreign++
			}
		}
		for k, e := range x {
			if k != "contained" {
				s.patientsReferenced(e, uuids, out, foreign)
			}
		}
	case []any:
		for _, e := range x {
			s.patientsReferenced(e, uuids, out, foreign)
		}
	}
}

// patientMRN is the MRN a Patient resource is about: its id, or the value of
// one of its identifiers whose system is an MRN system of this server
// (Options.MRNSystems), that the table knows. Identifiers of other systems
// (insurance numbers, other hospitals' MRNs) are never matched: their values
// may equal an MRN of another person.
func (s *Server) patientMRN(res map[string]any) (string, error) {
	var cands []string
	if id, ok := res["id"].(string); ok {
		cands = append(cands, id)
	}
	ids, _ := res["identifier"].([]any)
	for _, i := range ids {
		if m, ok := i.(map[string]any); ok {
			sys, _ := m["system"].(string)
			if v, ok := m["value"].(string); ok && slices.Contains(s.opts.MRNSystems, sys) {
				cands = append(cands, v)
			}
		}
	}
	// every id and identifier the table knows must name the same patient: a
	// Patient resource that names two cannot be filed under either
	found, foundAddr := "", ""
	for _, c := range cands {
		a, ok, err := s.opts.Patients.Address(c)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		if found != "" && a != foundAddr {
			return "", fmt.Errorf("the Patient resource names two patients (%s and %s)", found, c)
		}
		if found == "" {
			found, foundAddr = c, a
		}
	}
	if found == "" {
		return "", errUnknownPatient("the Patient resource's id and identifiers")
	}
	return found, nil
}

type unknownPatientError struct{ what string }

func (e *unknownPatientError) Error() string {
	return e.what + " name no patient this server knows: add the MRN with `healthd fhir patients set MRN ADDRESS`"
}

func errUnknownPatient(what string) error { return &unknownPatientError{what} }

// resolvePatient finds the one patient a resource belongs to and its chain
// address. A resource referencing no patient, or two, or one the MRN table
// does not know, is refused (422).
func (s *Server) resolvePatient(typ string, res map[string]any, uuids map[string]string) (mrn, addr string, err error) {
	if typ == "Patient" {
		mrn, err = s.patientMRN(res)
	} else {
		refs := map[string]bool{}
		foreign := 0
		s.patientsReferenced(res, uuids, refs, &foreign)
		if foreign > 0 && len(refs) == 0 {
			return "", "", errUnknownPatient("the resource references a Patient on another server only; it")
		}
		switch len(refs) {
		case 0:
			return "", "", errUnknownPatient("the resource references no patient (subject or patient: Patient/MRN); it")
		case 1:
			for m := range refs {
				mrn = m
			}
		default:
			ids := make([]string, 0, len(refs))
			for m := range refs {
				ids = append(ids, m)
			}
			slices.Sort(ids)
			return "", "", fmt.Errorf("the resource references more than one patient (%s): a record belongs to one patient", strings.Join(ids, ", "))
		}
	}
	if err != nil {
		return "", "", err
	}
	addr, ok, err := s.opts.Patients.Address(mrn)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", errUnknownPatient(fmt.Sprintf("Patient/%s", mrn))
	}
	return mrn, addr, nil
}

// present is the resource as served: the stored JSON with the server's id
// and meta (versionId, lastUpdated) set, resourceType first.
func present(plain []byte, v version) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	var typ string
	if err := json.Unmarshal(plain, &m); err != nil || m == nil || json.Unmarshal(m["resourceType"], &typ) != nil ||
		typ != v.rec.FhirResourceType {
		// a file filed with `healthd records put`, or content that is not what
		// its record says (served under a scope for the record's type)
		return nil, &notServable{fmt.Sprintf("record %d is not a JSON %s resource: read it with `healthd records get`", v.rec.Id, v.rec.FhirResourceType)}
	}
	rt := m["resourceType"]
	delete(m, "resourceType")
	meta := map[string]json.RawMessage{}
	if raw, ok := m["meta"]; ok {
		_ = json.Unmarshal(raw, &meta)
	}
	meta["versionId"], _ = json.Marshal(strconv.Itoa(v.n))
	meta["lastUpdated"], _ = json.Marshal(v.rec.CreatedAt.UTC().Format(time.RFC3339Nano))
	var err error
	if m["meta"], err = json.Marshal(meta); err != nil {
		return nil, err
	}
	m["id"], _ = json.Marshal(strconv.FormatUint(v.origin, 10))
	rest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"resourceType":`), rt...)
	if len(rest) > 2 {
		out = append(append(out, ','), rest[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, nil
}

// withoutServerElements drops a resource's id and meta.versionId and
// meta.lastUpdated, which the server assigns; every other value is kept byte
// for byte.
func withoutServerElements(raw []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return raw
	}
	delete(m, "id")
	if mr, ok := m["meta"]; ok {
		var meta map[string]json.RawMessage
		if json.Unmarshal(mr, &meta) == nil {
			delete(meta, "versionId")
			delete(meta, "lastUpdated")
			if len(meta) == 0 {
				delete(m, "meta")
			} else {
				m["meta"], _ = json.Marshal(meta)
			}
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return out
}

func etag(n int) string { return fmt.Sprintf(`W/"%d"`, n) }

// etagMatches reports whether an If-Match value names version n (W/"n" or
// "n"; * matches any existing version).
func etagMatches(m string, n int) bool {
	m = strings.TrimSpace(m)
	return m == "*" || m == etag(n) || m == fmt.Sprintf(`"%d"`, n)
}

// versions returns the chain of versions of the resource whose FHIR id is
// origin, oldest first. A record that amends another is not an origin: its
// id is not a FHIR id (not found).
func (s *Server) versions(ctx context.Context, typ string, origin uint64) ([]version, error) {
	rec, err := s.agent.Record(ctx, origin)
	if err != nil {
		return nil, err
	}
	if rec.Supersedes != 0 || rec.FhirResourceType != typ {
		return nil, errNotFound
	}
	out := []version{{rec, origin, 1}}
	for rec.SupersededBy != 0 && len(out) < 10_000 {
		if rec, err = s.agent.Record(ctx, rec.SupersededBy); err != nil {
			return nil, err
		}
		out = append(out, version{rec, origin, len(out) + 1})
	}
	return out, nil
}

var errNotFound = errors.New("not found")

// lookup finds the versions of the resource typ/id, or answers 404.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, typ, id string) ([]version, bool) {
	n, ok := positiveInt(id)
	if !ok {
		writeOutcome(w, http.StatusNotFound, issue("not-found", fmt.Sprintf("%s/%s: no such resource", typ, id)))
		return nil, false
	}
	vs, err := s.versions(r.Context(), typ, n)
	if err != nil {
		if st, _ := classify(err); st == http.StatusNotFound {
			err = errNotFound
		}
	}
	switch {
	case errors.Is(err, errNotFound):
		writeOutcome(w, http.StatusNotFound, issue("not-found", fmt.Sprintf("%s/%s: no such resource", typ, id)))
		return nil, false
	case err != nil:
		failure(w, err)
		return nil, false
	}
	return vs, true
}

// read is GET /{type}/{id} (vid 0) and /{type}/{id}/_history/{vid}: one read,
// one access receipt.
func (s *Server) read(w http.ResponseWriter, q *request, typ, id string, vid uint64) {
	if !allowed(w, q, typ, 'r') {
		return
	}
	if typ == "Patient" { // a Patient's id is an MRN, never a record id
		addr, ok, err := s.opts.Patients.Address(id)
		switch {
		case err != nil:
			failure(w, err)
		case !ok || vid > 1:
			writeOutcome(w, http.StatusNotFound, issue("not-found", "no patient with this MRN here"))
		default:
			s.patientResource(w, id, addr)
		}
		return
	}
	vs, ok := s.lookup(w, q.r, typ, id)
	if !ok {
		return
	}
	v := vs[len(vs)-1]
	if vid > 0 {
		if vid > uint64(len(vs)) {
			writeOutcome(w, http.StatusNotFound, issue("not-found", fmt.Sprintf("%s/%s has %d versions", typ, id, len(vs))))
			return
		}
		v = vs[vid-1]
	}
	if v.rec.Status == recordstypes.RECORD_STATUS_ERASED {
		writeOutcome(w, http.StatusGone, issue("deleted", fmt.Sprintf("%s/%s was erased by the patient", typ, id)))
		return
	}
	opened, err := s.agent.ReadAll(q.r.Context(), []recordstypes.Record{v.rec}, q.grant.Purpose, "", nil)
	if err != nil {
		failure(w, err)
		return
	}
	if opened[0].Err != nil {
		failure(w, opened[0].Err)
		return
	}
	body, err := s.serveResource(opened[0].Plain, v)
	if err != nil {
		failure(w, err)
		return
	}
	h := w.Header()
	h.Set("ETag", etag(v.n))
	h.Set("Last-Modified", v.rec.CreatedAt.UTC().Format(http.TimeFormat))
	writeResource(w, http.StatusOK, body)
}

// patientResource is GET /Patient/{MRN}: the patient as this server knows
// them, from the MRN table alone (no chain read, no receipt): the MRN as the
// id and identifier. The demographics an EHR filed are records, served by
// $everything.
func (s *Server) patientResource(w http.ResponseWriter, mrn, _ string) {
	writeResource(w, http.StatusOK, patientJSON(mrn))
}

func patientJSON(mrn string) map[string]any {
	return map[string]any{
		"resourceType": "Patient", "id": mrn, "active": true,
		"identifier": []any{map[string]any{"system": MRNSystem, "value": mrn}},
		"meta":       map[string]any{"versionId": "1"},
	}
}

// patientNotStored explains why Patient resources are not records.
const patientNotStored = "Patient resources are not stored: a patient is the MRN in this server's table, and the " +
	"demographics stay in the EHR; a Patient in a Bundle or a POST names a known patient (200, Location Patient/MRN)"

// MRNSystem is the identifier system of the MRNs of this server's patients.
const MRNSystem = "urn:healthd:mrn"

// preferReturn is the Prefer header's return= (minimal, representation or
// OperationOutcome; default representation).
func preferReturn(r *http.Request) string {
	for _, p := range strings.Split(r.Header.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "return="); ok {
			return v
		}
	}
	return "representation"
}

// respondWritten answers a create or update of plain (as stored).
func (s *Server) respondWritten(w http.ResponseWriter, r *http.Request, status int, typ string, v version, plain []byte) {
	var body json.RawMessage
	if preferReturn(r) == "representation" {
		var err error
		if body, err = s.serveResource(plain, v); err != nil {
			failure(w, err)
			return
		}
	}
	s.respondBody(w, r, status, typ, v, body)
}

// respondBody answers a write of version v, whose served resource is body
// (used when the Prefer header asks for the representation).
func (s *Server) respondBody(w http.ResponseWriter, r *http.Request, status int, typ string, v version, body json.RawMessage) {
	h := w.Header()
	h.Set("Location", fmt.Sprintf("%s/%s/%d/_history/%d", s.opts.BaseURL, typ, v.origin, v.n))
	h.Set("ETag", etag(v.n))
	h.Set("Last-Modified", v.rec.CreatedAt.UTC().Format(http.TimeFormat))
	switch preferReturn(r) {
	case "minimal":
		w.WriteHeader(status)
	case "OperationOutcome":
		writeResource(w, status, outcome(Issue{
			Severity: "information", Code: "informational",
			Diagnostics: fmt.Sprintf("%s/%d version %d committed as record %d at height %d", typ, v.origin, v.n, v.rec.Id, v.rec.Height),
		}))
	default:
		writeResource(w, status, body)
	}
}

// create is POST /{type}: one new record.
func (s *Server) create(w http.ResponseWriter, q *request, typ string) {
	if serverTypes[typ] {
		writeOutcome(w, http.StatusMethodNotAllowed, issue("not-supported", typ+" resources are made by the server from chain state, not stored"))
		return
	}
	if !allowed(w, q, typ, 'c') {
		return
	}
	raw, got, ok := s.readBody(w, q.r)
	if !ok {
		return
	}
	if got != typ {
		writeOutcome(w, http.StatusBadRequest, issue("invalid", fmt.Sprintf("the body is a %s, the URL names %s", got, typ)))
		return
	}
	var res map[string]any
	_ = json.Unmarshal(raw, &res)
	mrn, addr, err := s.resolvePatient(typ, res, nil)
	if err != nil {
		writeOutcome(w, http.StatusUnprocessableEntity, issue("processing", err.Error()))
		return
	}
	if typ == "Patient" { // names a known patient; nothing is stored
		w.Header().Set("Location", s.opts.BaseURL+"/Patient/"+mrn)
		s.patientResource(w, mrn, addr)
		return
	}
	if raw, err = s.neutralize(withoutServerElements(raw), mrn, addr, nil); err != nil {
		failure(w, err)
		return
	}
	if cond := q.r.Header.Get("If-None-Exist"); cond != "" {
		if hit, ok := s.ifNoneExist(w, q, typ, addr, cond); !ok || hit != nil {
			if hit != nil {
				s.respondExisting(w, q, typ, *hit)
			}
			return
		}
	}
	created, err := s.agent.CreateAll(q.r.Context(), []agent.NewResource{{
		Patient: addr, Type: typ, Class: fhir.ClassOfResource(typ, raw), Raw: raw, Scope: filingScope(q, nil),
	}}, q.grant.Purpose, s.opts.VaultURL)
	if err != nil {
		failure(w, err)
		return
	}
	v, err := s.createdVersion(q.r.Context(), typ, created[0])
	if err != nil {
		failure(w, err)
		return
	}
	status := http.StatusCreated
	if created[0].AlreadyFiled { // a retried create: the resource is there, nothing was filed now
		status = http.StatusOK
	}
	s.respondWritten(w, q.r, status, typ, v, raw)
}

// update is PUT /{type}/{id}: an amendment, the resource's next version.
// There is no update-as-create: ids are the chain's.
func (s *Server) update(w http.ResponseWriter, q *request, typ, id string) {
	if typ == "Patient" {
		writeOutcome(w, http.StatusMethodNotAllowed, issue("not-supported", patientNotStored))
		return
	}
	if !allowed(w, q, typ, 'u') {
		return
	}
	raw, got, ok := s.readBody(w, q.r)
	if !ok {
		return
	}
	var res map[string]any
	_ = json.Unmarshal(raw, &res)
	if got != typ {
		writeOutcome(w, http.StatusBadRequest, issue("invalid", fmt.Sprintf("the body is a %s, the URL names %s", got, typ)))
		return
	}
	if bid, ok := res["id"].(string); !ok || bid != id {
		writeOutcome(w, http.StatusBadRequest, issue("invalid", "an update's body must carry the id of its URL"))
		return
	}
	vs, ok := s.lookup(w, q.r, typ, id)
	if !ok {
		return
	}
	cur := vs[len(vs)-1]
	if cur.rec.Status != recordstypes.RECORD_STATUS_ACTIVE {
		writeOutcome(w, http.StatusGone, issue("deleted", fmt.Sprintf("%s/%s was erased by the patient", typ, id)))
		return
	}
	if m := q.r.Header.Get("If-Match"); m != "" && !etagMatches(m, cur.n) {
		writeOutcome(w, http.StatusPreconditionFailed, issue("conflict", fmt.Sprintf("If-Match %s: the current version is %s", m, etag(cur.n))))
		return
	}
	mrn, addr, err := s.resolvePatient(typ, res, nil)
	if err != nil {
		writeOutcome(w, http.StatusUnprocessableEntity, issue("processing", err.Error()))
		return
	}
	if addr != cur.rec.Patient {
		writeOutcome(w, http.StatusUnprocessableEntity, issue("processing", "the new version names another patient than the resource's"))
		return
	}
	stored, err := s.neutralize(withoutServerElements(raw), mrn, addr, nil)
	if err != nil {
		failure(w, err)
		return
	}
	newID, err := s.agent.Amend(q.r.Context(), cur.rec.Id, stored, typ, q.grant.Purpose, s.opts.VaultURL)
	if err != nil {
		failure(w, err)
		return
	}
	rec, err := s.agent.Record(q.r.Context(), newID)
	if err != nil {
		failure(w, err)
		return
	}
	s.respondWritten(w, q.r, http.StatusOK, typ, version{rec, cur.origin, cur.n + 1}, stored)
}

// activeVersions returns the current version of each of patient's active
// resources that keep accepts, by origin id.
func (s *Server) activeVersions(ctx context.Context, patient string, keep func(version) bool) ([]version, error) {
	all, err := s.patientVersions(ctx, patient)
	if err != nil {
		return nil, err
	}
	var out []version
	for _, v := range all {
		if v.rec.Status == recordstypes.RECORD_STATUS_ACTIVE && keep(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// patientVersions lists every record of patient (any status) and returns the
// current version of each resource, by origin id.
func (s *Server) patientVersions(ctx context.Context, patient string) ([]version, error) {
	recs, err := s.agent.RecordsOf(ctx, patient, 0)
	if err != nil {
		return nil, err
	}
	byID := make(map[uint64]recordstypes.Record, len(recs))
	for _, r := range recs {
		byID[r.Id] = r
	}
	var out []version
	for _, r := range recs {
		if r.Supersedes != 0 {
			continue
		}
		v := version{r, r.Id, 1}
		for v.rec.SupersededBy != 0 {
			next, ok := byID[v.rec.SupersededBy]
			if !ok {
				break
			}
			v.rec, v.n = next, v.n+1
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b version) int { return cmpU(a.origin, b.origin) })
	return out, nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MaxResourceSize is the largest record the FHIR API serves: a FHIR
// resource is JSON of a few kilobytes; a larger record (an image, a PDF filed
// with `healthd records put`) is read with `healthd records get`, and is not
// read (no receipt) here.
const MaxResourceSize = 8 << 20

// notServable is a record the FHIR API does not serve (too large, or not a
// JSON resource of its type): a warning in a searchset, never a refusal.
type notServable struct{ msg string }

func (e *notServable) Error() string { return e.msg }

// readVersions reads vs (one receipt each, batched) and returns the entries
// read, and the refusals and failures by record. A record too large to be a
// FHIR resource is not read.
func (s *Server) readVersions(ctx context.Context, vs []version, purpose string) ([]json.RawMessage, []error, error) {
	out := make([]json.RawMessage, len(vs))
	errs := make([]error, len(vs))
	var recs []recordstypes.Record
	var idx []int
	for i, v := range vs {
		if v.rec.Size_ > MaxResourceSize {
			errs[i] = &notServable{fmt.Sprintf("record %d is %d bytes, too large for a FHIR resource: read it with `healthd records get`", v.rec.Id, v.rec.Size_)}
			continue
		}
		recs, idx = append(recs, v.rec), append(idx, i)
	}
	opened, err := s.agent.ReadAll(ctx, recs, purpose, "", nil)
	if err != nil {
		return nil, nil, err
	}
	for k, o := range opened {
		i := idx[k]
		if o.Err != nil {
			errs[i] = o.Err
			continue
		}
		out[i], errs[i] = s.serveResource(o.Plain, vs[i])
	}
	return out, errs, nil
}

// bundleEntry is a Bundle entry as served.
type bundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *entrySearch    `json:"search,omitempty"`
	Request  *entryRequest   `json:"request,omitempty"`
	Response *entryResponse  `json:"response,omitempty"`
}

type entrySearch struct {
	Mode string `json:"mode"`
}

type entryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

type entryResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

type link struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// Bundle is a Bundle as served.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	ID           string        `json:"id,omitempty"`
	Meta         *bundleMeta   `json:"meta,omitempty"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp,omitempty"`
	Total        *int          `json:"total,omitempty"`
	Link         []link        `json:"link,omitempty"`
	Entry        []bundleEntry `json:"entry,omitempty"`
}

type bundleMeta struct {
	LastUpdated string `json:"lastUpdated"`
}

func newBundle(typ string) *Bundle {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return &Bundle{ResourceType: "Bundle", Type: typ, Timestamp: now, Meta: &bundleMeta{LastUpdated: now}}
}

// searchResults fills a searchset with the resources read, and answers 403
// with the chain's reason when it refused every read of a non-empty page.
func (s *Server) searchResults(w http.ResponseWriter, b *Bundle, vs []version, read []json.RawMessage, errs []error, typOf func(version) string) bool {
	var warnings []Issue
	refused := 0
	firstStatus := 0
	var firstIssue Issue
	for i, v := range vs {
		if errs[i] != nil {
			st, iss := classify(errs[i])
			var ns *notServable
			if errors.As(errs[i], &ns) {
				iss = issue("not-supported", ns.msg)
			} else if firstStatus == 0 {
				firstStatus, firstIssue = st, iss
			}
			if !errors.As(errs[i], &ns) {
				refused++
			}
			iss.Severity = "warning"
			iss.Expression = nil
			iss.Diagnostics = fmt.Sprintf("%s/%d: %s", typOf(v), v.origin, iss.Diagnostics)
			warnings = append(warnings, iss)
			continue
		}
		b.Entry = append(b.Entry, bundleEntry{
			FullURL: fmt.Sprintf("%s/%s/%d", s.opts.BaseURL, typOf(v), v.origin), Resource: read[i], Search: &entrySearch{Mode: "match"},
		})
	}
	if refused > 0 && refused == len(vs) {
		firstIssue.Severity = "error"
		writeOutcome(w, firstStatus, firstIssue)
		return false
	}
	if len(warnings) > 0 {
		raw, _ := json.Marshal(outcome(warnings...))
		b.Entry = append(b.Entry, bundleEntry{Resource: raw, Search: &entrySearch{Mode: "outcome"}})
	}
	return true
}

// patientParam resolves a search's patient parameter (MRN or Patient/MRN).
func (s *Server) patientParam(w http.ResponseWriter, value string) (string, string, bool) {
	mrn := value
	if id, ok := s.patientRef(value); ok {
		mrn = id
	}
	addr, ok, err := s.opts.Patients.Address(mrn)
	if err != nil {
		failure(w, err)
		return "", "", false
	}
	if !ok {
		writeOutcome(w, http.StatusUnprocessableEntity, issue("not-found", errUnknownPatient("Patient/"+mrn).Error()))
		return "", "", false
	}
	return mrn, addr, true
}

// everything is GET /Patient/{MRN}/$everything: every active resource of the
// patient this organization may read, one receipt each (batched), in one
// searchset. Resource types outside the token's read scopes are left out
// before anything is read.
func (s *Server) everything(w http.ResponseWriter, q *request, mrn string) {
	if !allowed(w, q, "Patient", 'r') {
		return
	}
	mrn, addr, ok := s.patientParam(w, mrn)
	if !ok {
		return
	}
	// the patient first (the MRN, as GET /Patient/MRN serves it); records
	// filed as Patient resources (by the CLI's import) are not served: here a
	// patient's id is the MRN
	vs, err := s.activeVersions(q.r.Context(), addr, func(v version) bool {
		t := v.rec.FhirResourceType
		return t != "Patient" && q.grant.Allows(t, 'r')
	})
	if err != nil {
		failure(w, err)
		return
	}
	read, errs, err := s.readVersions(q.r.Context(), vs, q.grant.Purpose)
	if err != nil {
		failure(w, err)
		return
	}
	b := newBundle("searchset")
	total := 1
	for _, e := range errs {
		if e == nil {
			total++
		}
	}
	b.Total = &total
	b.Link = []link{{"self", s.opts.BaseURL + q.r.URL.RequestURI()}}
	patient, _ := json.Marshal(patientJSON(mrn))
	b.Entry = append(b.Entry, bundleEntry{FullURL: s.opts.BaseURL + "/Patient/" + mrn, Resource: patient, Search: &entrySearch{Mode: "match"}})
	if s.searchResults(w, b, vs, read, errs, func(v version) string { return v.rec.FhirResourceType }) {
		writeResource(w, http.StatusOK, b)
	}
}
