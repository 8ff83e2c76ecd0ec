package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/fhir"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// inEntry is a transaction or batch Bundle entry as received.
type inEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		IfMatch     string `json:"ifMatch"`
		IfNoneExist string `json:"ifNoneExist"`
	} `json:"request"`
}

type inBundle struct {
	ResourceType string    `json:"resourceType"`
	Type         string    `json:"type"`
	Entry        []inEntry `json:"entry"`
}

// planned is one entry ready to write, or why it cannot be.
type planned struct {
	typ, addr string
	mrn       string // a Patient entry: the patient it names (nothing is stored)
	raw       []byte
	update    uint64 // the origin id of a PUT; 0 for a create
	ifMatch   string // a PUT's request.ifMatch
	cond      *condition
	exists    *found // a conditional create's match: nothing to file
	status    int    // an error's HTTP status; 0 when ready
	issues    []Issue
}

// bundle is POST / with a transaction or batch Bundle. Each entry is a POST
// {type} (a new record) or, in a batch, a PUT {type}/{id} (an amendment). A
// transaction is all or nothing: every entry is checked (structure, scope,
// patient) before anything is uploaded, and all its records are committed by
// one chain transaction. A batch writes the entries that pass and reports
// each one.
func (s *Server) bundle(w http.ResponseWriter, q *request) {
	raw, err := io.ReadAll(q.r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeOutcome(w, http.StatusRequestEntityTooLarge, issue("too-costly", fmt.Sprintf("the Bundle is larger than %d bytes", tooBig.Limit)))
			return
		}
		writeOutcome(w, http.StatusBadRequest, issue("structure", err.Error()))
		return
	}
	var b inBundle
	if err := json.Unmarshal(raw, &b); err != nil {
		writeOutcome(w, http.StatusBadRequest, issue("structure", "not a JSON Bundle: "+err.Error()))
		return
	}
	if b.ResourceType != "Bundle" || (b.Type != "transaction" && b.Type != "batch") {
		writeOutcome(w, http.StatusBadRequest, issue("invalid", "POST / takes a Bundle of type transaction or batch"))
		return
	}
	if len(b.Entry) > s.opts.MaxBundleEntries {
		writeOutcome(w, http.StatusRequestEntityTooLarge, issue("too-costly", fmt.Sprintf(
			"the Bundle has %d entries; at most %d are taken at once: split it", len(b.Entry), s.opts.MaxBundleEntries)))
		return
	}
	tx := b.Type == "transaction"
	// the structure of the whole Bundle, every entry's resource included
	_, found := fhir.Validate(raw)
	byEntry := map[int][]Issue{}
	var bundleIssues []Issue
	for _, iss := range validationIssues("", found) {
		var i int
		if len(iss.Expression) == 1 && scanEntry(iss.Expression[0], &i) {
			byEntry[i] = append(byEntry[i], iss)
		} else {
			bundleIssues = append(bundleIssues, iss)
		}
	}
	if len(bundleIssues) > 0 || (tx && len(byEntry) > 0) {
		writeOutcome(w, http.StatusBadRequest, append(bundleIssues, flatten(byEntry, len(b.Entry))...)...)
		return
	}
	// urn:uuid fullUrls of Patient entries name their patients; a fullUrl
	// used twice would make references ambiguous
	uuids := map[string]string{}
	seen := map[string]bool{}
	for i, e := range b.Entry {
		if e.FullURL != "" && seen[e.FullURL] {
			writeOutcome(w, http.StatusBadRequest, Issue{
				Severity: "error", Code: "invalid",
				Expression: []string{fmt.Sprintf("Bundle.entry[%d].fullUrl", i)}, Diagnostics: "fullUrl used by two entries",
			})
			return
		}
		seen[e.FullURL] = true
		var res map[string]any
		if json.Unmarshal(e.Resource, &res) == nil && res["resourceType"] == "Patient" && strings.HasPrefix(e.FullURL, "urn:") {
			if mrn, err := s.patientMRN(res); err == nil {
				uuids[e.FullURL] = mrn
			}
		}
	}
	plans := make([]planned, len(b.Entry))
	conds := map[string]int{} // a condition per patient and type, for a transaction
	for i, e := range b.Entry {
		plans[i] = s.plan(q, i, e, uuids, tx, byEntry[i])
		if p := plans[i]; tx && p.cond != nil && p.status == 0 {
			k := p.addr + "\x00" + p.typ + "\x00" + p.cond.system + "|" + p.cond.value
			if j, dup := conds[k]; dup {
				writeOutcome(w, http.StatusBadRequest, issue("duplicate", fmt.Sprintf(
					"entries %d and %d have the same ifNoneExist: the first would be created and the second would not see it", j, i)))
				return
			}
			conds[k] = i
		}
	}
	scope := filingScope(q, raw)
	if tx {
		for i, p := range plans {
			if p.status != 0 {
				for j := range p.issues {
					p.issues[j].Diagnostics = fmt.Sprintf("entry %d: %s", i, p.issues[j].Diagnostics)
				}
				writeOutcome(w, p.status, p.issues...)
				return
			}
		}
		s.commitTransaction(w, q, plans, scope)
		return
	}
	s.commitBatch(w, q, plans, scope)
}

// scanEntry reads the entry index of a Bundle.entry[i]… expression.
func scanEntry(expr string, i *int) bool {
	rest, ok := strings.CutPrefix(expr, "Bundle.entry[")
	if !ok {
		return false
	}
	n, err := fmt.Sscanf(rest, "%d]", i)
	return err == nil && n == 1
}

func flatten(byEntry map[int][]Issue, n int) []Issue {
	var out []Issue
	for i := range n {
		out = append(out, byEntry[i]...)
	}
	return out
}

// plan checks one entry: its request, the token's scope, its patient.
func (s *Server) plan(q *request, i int, e inEntry, uuids map[string]string, tx bool, structural []Issue) planned {
	fail := func(status int, iss ...Issue) planned {
		for j := range iss {
			if len(iss[j].Expression) == 0 {
				iss[j].Expression = []string{fmt.Sprintf("Bundle.entry[%d]", i)}
			}
		}
		return planned{status: status, issues: iss}
	}
	if len(structural) > 0 {
		return fail(http.StatusBadRequest, structural...)
	}
	if e.Request == nil || len(e.Resource) == 0 {
		return fail(http.StatusBadRequest, issue("required", "each entry needs a resource and a request (method, url)"))
	}
	var res map[string]any
	_ = json.Unmarshal(e.Resource, &res)
	typ, _ := res["resourceType"].(string)
	if serverTypes[typ] {
		return fail(http.StatusBadRequest, issue("not-supported", typ+" resources are made by the server from chain state, not stored"))
	}
	p := planned{typ: typ}
	urlType, urlID, _ := strings.Cut(strings.Trim(e.Request.URL, "/"), "/")
	if urlType != typ {
		return fail(http.StatusBadRequest, issue("invalid", fmt.Sprintf("request.url %q does not name the resource's type %s", e.Request.URL, typ)))
	}
	switch e.Request.Method {
	case http.MethodPost:
		if !q.grant.Allows(typ, 'c') {
			return fail(http.StatusForbidden, issue("forbidden", fmt.Sprintf("the access token's scopes do not allow create on %s", typ)))
		}
		if e.Request.IfNoneExist != "" {
			if err := mayMatch(q, typ); err != nil {
				return fail(http.StatusForbidden, issue("forbidden", err.Error()))
			}
			c, err := parseCondition(e.Request.IfNoneExist)
			if err != nil {
				return fail(http.StatusBadRequest, issue("not-supported", err.Error()))
			}
			p.cond = &c
		}
	case http.MethodPut:
		if tx {
			return fail(http.StatusBadRequest, issue("not-supported",
				"a transaction creates records only (POST); send amendments (PUT) in a batch or one by one"))
		}
		if !q.grant.Allows(typ, 'u') {
			return fail(http.StatusForbidden, issue("forbidden", fmt.Sprintf("the access token's scopes do not allow update on %s", typ)))
		}
		n, ok := positiveInt(urlID)
		if !ok {
			return fail(http.StatusNotFound, issue("not-found", fmt.Sprintf("%s: no such resource", e.Request.URL)))
		}
		if id, _ := res["id"].(string); id != urlID {
			return fail(http.StatusBadRequest, issue("invalid", "an update's resource must carry the id of its request.url"))
		}
		p.update, p.ifMatch = n, e.Request.IfMatch
	default:
		return fail(http.StatusBadRequest, issue("not-supported", fmt.Sprintf("request.method %s: entries may POST (or PUT in a batch)", e.Request.Method)))
	}
	mrn, addr, err := s.resolvePatient(typ, res, uuids)
	if err != nil {
		return fail(http.StatusUnprocessableEntity, issue("processing", err.Error()))
	}
	p.addr = addr
	if typ == "Patient" {
		if p.update != 0 {
			return fail(http.StatusMethodNotAllowed, issue("not-supported", patientNotStored))
		}
		p.mrn = mrn // names the patient; not stored
		return p
	}
	if p.raw, err = s.neutralize(withoutServerElements(e.Resource), mrn, addr, uuids); err != nil {
		return fail(http.StatusBadRequest, issue("structure", "the resource is not JSON"))
	}
	return p
}

// commitTransaction writes every entry in one chain transaction. Entries
// whose If-None-Exist matches, and resources filed before (a retried
// transaction), answer 200 with the existing resource and file nothing.
func (s *Server) commitTransaction(w http.ResponseWriter, q *request, plans []planned, scope [32]byte) {
	ctx := q.r.Context()
	var items []agent.NewResource
	var stored []int // plan indexes of the records
	for i, p := range plans {
		if p.mrn != "" {
			continue
		}
		if p.cond != nil {
			hit, err := s.findExisting(ctx, q, p.typ, p.addr, *p.cond)
			if errors.Is(err, errPreconditionFailed) {
				writeOutcome(w, http.StatusPreconditionFailed, issue("duplicate", fmt.Sprintf("entry %d: ifNoneExist matches more than one resource", i)))
				return
			} else if err != nil {
				failure(w, err)
				return
			}
			if plans[i].exists = hit; hit != nil {
				continue
			}
		}
		items = append(items, agent.NewResource{Patient: p.addr, Type: p.typ, Class: fhir.ClassOfResource(p.typ, p.raw), Raw: p.raw, Scope: scope})
		stored = append(stored, i)
	}
	var created []agent.Created
	if len(items) > 0 {
		var err error
		if created, err = s.agent.CreateAll(ctx, items, q.grant.Purpose, s.opts.VaultURL); err != nil {
			failure(w, err)
			return
		}
	}
	out := newBundle("transaction-response")
	out.Entry = make([]bundleEntry, len(plans))
	for i, p := range plans {
		switch {
		case p.mrn != "":
			out.Entry[i] = bundleEntry{Response: &entryResponse{Status: "200 OK", Location: "Patient/" + p.mrn}}
		case p.exists != nil:
			out.Entry[i] = bundleEntry{Response: existingResponse(p.typ, p.exists.v)}
		}
	}
	when := "" // the block time of the new records: one transaction, one block
	for k, c := range created {
		i := stored[k]
		if c.AlreadyFiled {
			v, err := s.createdVersion(ctx, plans[i].typ, c)
			if err != nil {
				failure(w, err)
				return
			}
			out.Entry[i] = bundleEntry{Response: existingResponse(plans[i].typ, v)}
			continue
		}
		if when == "" {
			if rec, err := s.agent.Record(ctx, c.ID); err == nil {
				when = fhirTime(rec.CreatedAt)
			}
		}
		out.Entry[i] = bundleEntry{Response: &entryResponse{
			Status: "201 Created", Location: fmt.Sprintf("%s/%d/_history/1", plans[i].typ, c.ID), Etag: etag(1), LastModified: when,
		}}
	}
	writeResource(w, http.StatusOK, out)
}

// commitBatch writes each entry that passed on its own: the creates of one
// patient together (in batches of the chain's max_batch_size), each
// amendment alone; every entry gets its own response.
func (s *Server) commitBatch(w http.ResponseWriter, q *request, plans []planned, scope [32]byte) {
	out := newBundle("batch-response")
	out.Entry = make([]bundleEntry, len(plans))
	fail := func(i, status int, iss ...Issue) {
		raw, _ := json.Marshal(outcome(iss...))
		out.Entry[i] = bundleEntry{Response: &entryResponse{Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Outcome: raw}}
	}
	byPatient := map[string][]int{}
	var order []string
	for i, p := range plans {
		switch {
		case p.status != 0:
			fail(i, p.status, p.issues...)
		case p.mrn != "":
			out.Entry[i] = bundleEntry{Response: &entryResponse{Status: "200 OK", Location: "Patient/" + p.mrn}}
		case p.update != 0:
			s.batchUpdate(q, i, p, out, fail)
		case p.cond != nil && s.batchExisting(q, i, p, out, fail):
		default:
			if _, ok := byPatient[p.addr]; !ok {
				order = append(order, p.addr)
			}
			byPatient[p.addr] = append(byPatient[p.addr], i)
		}
	}
	for _, addr := range order {
		idx := byPatient[addr]
		parsed := &fhir.Parsed{FilingScope: scope}
		for _, i := range idx {
			parsed.Types = append(parsed.Types, plans[i].typ)
			parsed.Classes = append(parsed.Classes, fhir.ClassOfResource(plans[i].typ, plans[i].raw))
			parsed.Resources = append(parsed.Resources, plans[i].raw)
		}
		done, err := s.agent.ImportBundle(q.r.Context(), parsed, addr, q.grant.Purpose, s.opts.VaultURL, nil)
		ok := map[int]bool{}
		for _, d := range done {
			i := idx[d.Index]
			ok[i] = true
			if d.AlreadyFiled {
				v, err := s.createdVersion(q.r.Context(), plans[i].typ, agent.Created{ID: d.RecordID, AlreadyFiled: true})
				if err != nil {
					st, iss := failureIssue(q.w, err)
					fail(i, st, iss)
					continue
				}
				out.Entry[i] = bundleEntry{Response: existingResponse(plans[i].typ, v)}
				continue
			}
			out.Entry[i] = bundleEntry{Response: &entryResponse{
				Status: "201 Created", Location: fmt.Sprintf("%s/%d/_history/1", plans[i].typ, d.RecordID), Etag: etag(1),
			}}
		}
		if err != nil {
			st, iss := failureIssue(q.w, err)
			for _, i := range idx {
				if !ok[i] {
					fail(i, st, iss)
				}
			}
		}
	}
	writeResource(w, http.StatusOK, out)
}

// batchExisting answers a batch entry's ifNoneExist: true when it answered
// (a match, several, or a failure), false to go on and create.
func (s *Server) batchExisting(q *request, i int, p planned, out *Bundle, fail func(i, status int, iss ...Issue)) bool {
	hit, err := s.findExisting(q.r.Context(), q, p.typ, p.addr, *p.cond)
	switch {
	case errors.Is(err, errPreconditionFailed):
		fail(i, http.StatusPreconditionFailed, issue("duplicate", "ifNoneExist matches more than one resource"))
	case err != nil:
		st, iss := failureIssue(q.w, err)
		fail(i, st, iss)
	case hit != nil:
		out.Entry[i] = bundleEntry{Response: existingResponse(p.typ, hit.v)}
	default:
		return false
	}
	return true
}

// batchUpdate amends one resource of a batch.
func (s *Server) batchUpdate(q *request, i int, p planned, out *Bundle, fail func(i, status int, iss ...Issue)) {
	ctx := q.r.Context()
	vs, err := s.versions(ctx, p.typ, p.update)
	if err != nil {
		if st, iss := failureIssue(q.w, err); st != http.StatusNotFound && !errors.Is(err, errNotFound) {
			fail(i, st, iss)
			return
		}
		fail(i, http.StatusNotFound, issue("not-found", fmt.Sprintf("%s/%d: no such resource", p.typ, p.update)))
		return
	}
	cur := vs[len(vs)-1]
	if cur.rec.Status != recordstypes.RECORD_STATUS_ACTIVE {
		fail(i, http.StatusGone, issue("deleted", fmt.Sprintf("%s/%d was erased by the patient", p.typ, p.update)))
		return
	}
	if p.ifMatch != "" && !etagMatches(p.ifMatch, cur.n) {
		fail(i, http.StatusPreconditionFailed, issue("conflict", fmt.Sprintf("ifMatch %s: the current version is %s", p.ifMatch, etag(cur.n))))
		return
	}
	if cur.rec.Patient != p.addr {
		fail(i, http.StatusUnprocessableEntity, issue("processing", "the new version names another patient than the resource's"))
		return
	}
	newID, err := s.agent.Amend(ctx, cur.rec.Id, p.raw, p.typ, q.grant.Purpose, s.opts.VaultURL)
	if err != nil {
		st, iss := failureIssue(q.w, err)
		fail(i, st, iss)
		return
	}
	_ = newID
	out.Entry[i] = bundleEntry{Response: &entryResponse{
		Status: "200 OK", Location: fmt.Sprintf("%s/%d/_history/%d", p.typ, cur.origin, cur.n+1), Etag: etag(cur.n + 1),
	}}
}
