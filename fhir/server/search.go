package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

// categoryClasses maps the category values a search may name to data
// classes: the class names themselves, and the FHIR category codes that the
// import maps (observation-category, v2-0074 diagnostic service sections).
var categoryClasses = map[string]string{
	"laboratory": "lab-result", "LAB": "lab-result", "vital-signs": "vital-signs", "imaging": "imaging", "RAD": "imaging",
}

// searchControl are the parameters every search accepts besides its own.
var searchControl = map[string]bool{"_count": true, "_format": true, "_pretty": true, "_summary": true, "_cursor": true}

// search is GET /{type}?patient=…: answered from chain metadata alone (no
// receipt to find the matches); each resource of the page returned is a read
// with its receipt. Parameters that would need the content (code, date,
// value, …) are refused with 400: filtering on them would mean reading, and
// disclosing, every record of the patient.
func (s *Server) search(w http.ResponseWriter, q *request, typ string) {
	switch typ {
	case "Consent":
		s.searchConsents(w, q)
		return
	case "AuditEvent":
		s.searchAuditEvents(w, q)
		return
	case "Provenance":
		s.searchProvenance(w, q)
		return
	case "_search":
		writeOutcome(w, http.StatusBadRequest, issue("not-supported", "a search names its resource type: GET /Observation?patient=MRN"))
		return
	}
	if serverTypes[typ] || typ == "Patient" {
		writeOutcome(w, http.StatusBadRequest, issue("not-supported", typ+" is not searched here (a patient is read by MRN: GET /Patient/MRN)"))
		return
	}
	if !allowed(w, q, typ, 's') {
		return
	}
	params := q.r.URL.Query()
	for k := range params {
		switch k {
		case "patient", "subject", "_id", "_lastUpdated", "category":
		default:
			if !searchControl[k] {
				writeOutcome(w, http.StatusBadRequest, Issue{
					Severity: "error", Code: "not-supported", Expression: []string{k},
					Diagnostics: fmt.Sprintf("search parameter %q is not supported: healthd searches chain metadata only "+
						"(patient, _id, _lastUpdated, category, _count); content is encrypted, and filtering on it would read "+
						"every record of the patient", k),
				})
				return
			}
		}
	}
	pv := params.Get("patient")
	if pv == "" {
		pv = params.Get("subject")
	}
	if pv == "" {
		writeOutcome(w, http.StatusBadRequest, Issue{
			Severity: "error", Code: "required", Expression: []string{"patient"},
			Diagnostics: "a search names its patient: ?patient=MRN",
		})
		return
	}
	_, addr, ok := s.patientParam(w, pv)
	if !ok {
		return
	}
	count, summaryCount, cursor, ok := s.pageParams(w, params)
	if !ok {
		return
	}
	match, ok := s.metadataFilter(w, params)
	if !ok {
		return
	}
	matches, err := s.activeVersions(q.r.Context(), addr, func(v version) bool { return v.rec.FhirResourceType == typ && match(v) })
	if err != nil {
		failure(w, err)
		return
	}
	// only what this organization may read now counts and pages (the chain's
	// decisions, a query: no receipt); a page of refusals would hide the
	// pages after it
	matches, refusedNote, err := s.readable(q, matches)
	if err != nil {
		failure(w, err)
		return
	}
	b := newBundle("searchset")
	total := len(matches)
	b.Total = &total
	b.Link = []link{{"self", s.opts.BaseURL + q.r.URL.RequestURI()}}
	if summaryCount {
		writeResource(w, http.StatusOK, b)
		return
	}
	start := 0
	for start < len(matches) && matches[start].origin <= cursor {
		start++
	}
	page := matches[start:min(start+count, len(matches))]
	if start+len(page) < len(matches) {
		next := cloneValues(params)
		next.Set("_cursor", strconv.FormatUint(page[len(page)-1].origin, 10))
		next.Set("_count", strconv.Itoa(count))
		b.Link = append(b.Link, link{"next", fmt.Sprintf("%s/%s?%s", s.opts.BaseURL, typ, next.Encode())})
	}
	read, errs, err := s.readVersions(q.r.Context(), page, q.grant.Purpose)
	if err != nil {
		failure(w, err)
		return
	}
	if s.searchResults(w, b, page, read, errs, func(version) string { return typ }) {
		if refusedNote != nil && cursor == 0 {
			raw, _ := json.Marshal(outcome(*refusedNote))
			b.Entry = append(b.Entry, bundleEntry{Resource: raw, Search: &entrySearch{Mode: "outcome"}})
		}
		writeResource(w, http.StatusOK, b)
	}
}

// readable keeps the matches the chain lets this organization read now. When
// it lets it read none of them, the error is the chain's refusal (403); when
// some, the note says how many others there are and why.
func (s *Server) readable(q *request, matches []version) ([]version, *Issue, error) {
	if len(matches) == 0 {
		return matches, nil, nil
	}
	recs := make([]recordstypes.Record, len(matches))
	for i, v := range matches {
		recs[i] = v.rec
	}
	refusals, err := s.agent.ReadRefusals(q.r.Context(), recs, q.grant.Purpose)
	if err != nil {
		return nil, nil, err
	}
	var out []version
	var first error
	for i, v := range matches {
		if refusals[i] == nil {
			out = append(out, v)
		} else if first == nil {
			first = refusals[i]
		}
	}
	switch {
	case first == nil:
		return out, nil, nil
	case len(out) == 0:
		return nil, nil, first
	}
	_, iss := classify(first)
	iss.Severity = "warning"
	iss.Diagnostics = fmt.Sprintf("%d more matches this organization may not read (for example: %s)", len(matches)-len(out), iss.Diagnostics)
	return out, &iss, nil
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// pageParams reads _count, _summary and _cursor.
func (s *Server) pageParams(w http.ResponseWriter, params url.Values) (count int, summaryCount bool, cursor uint64, ok bool) {
	count = s.opts.DefaultCount
	if c := params.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			writeOutcome(w, http.StatusBadRequest, Issue{
				Severity: "error", Code: "value", Expression: []string{"_count"},
				Diagnostics: "_count is a non-negative integer",
			})
			return 0, false, 0, false
		}
		count = min(n, s.opts.MaxCount)
		summaryCount = n == 0
	}
	switch sm := params.Get("_summary"); sm {
	case "", "false":
	case "count":
		summaryCount = true
	default:
		writeOutcome(w, http.StatusBadRequest, Issue{
			Severity: "error", Code: "not-supported", Expression: []string{"_summary"},
			Diagnostics: "_summary supports count only",
		})
		return 0, false, 0, false
	}
	if c := params.Get("_cursor"); c != "" {
		n, err := strconv.ParseUint(c, 10, 64)
		if err != nil {
			writeOutcome(w, http.StatusBadRequest, issue("value", "_cursor comes from a next link"))
			return 0, false, 0, false
		}
		cursor = n
	}
	return count, summaryCount, cursor, true
}

// metadataFilter builds the filter of _id, _lastUpdated and category.
func (s *Server) metadataFilter(w http.ResponseWriter, params url.Values) (func(version) bool, bool) {
	var filters []func(version) bool
	if ids := params.Get("_id"); ids != "" {
		want := map[uint64]bool{}
		for _, id := range strings.Split(ids, ",") {
			n, ok := positiveInt(strings.TrimSpace(id))
			if ok {
				want[n] = true
			}
		}
		filters = append(filters, func(v version) bool { return want[v.origin] })
	}
	for _, lu := range params["_lastUpdated"] {
		f, err := dateFilter(lu)
		if err != nil {
			writeOutcome(w, http.StatusBadRequest, Issue{Severity: "error", Code: "value", Expression: []string{"_lastUpdated"}, Diagnostics: err.Error()})
			return nil, false
		}
		filters = append(filters, func(v version) bool { return f(v.rec.CreatedAt) })
	}
	if cats := params.Get("category"); cats != "" {
		want := map[string]bool{}
		for _, c := range strings.Split(cats, ",") {
			c = strings.TrimSpace(c)
			if _, code, ok := strings.Cut(c, "|"); ok {
				c = code
			}
			if cl, ok := categoryClasses[c]; ok {
				c = cl
			}
			want[c] = true
		}
		filters = append(filters, func(v version) bool { return want[v.rec.DataClass] })
	}
	return func(v version) bool {
		for _, f := range filters {
			if !f(v) {
				return false
			}
		}
		return true
	}, true
}

// dateFilter parses a date search value with its prefix (eq, ne, gt, lt, ge,
// le; default eq) at the precision given (year, month, day, or time).
func dateFilter(value string) (func(time.Time) bool, error) {
	prefix := "eq"
	if len(value) > 2 && value[0] >= 'a' && value[0] <= 'z' {
		prefix, value = value[:2], value[2:]
	}
	var lo time.Time
	var hi time.Time
	var err error
	layouts := []struct {
		layout string
		step   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{"2006-01-02", func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Nanosecond) }},
	}
	ok := false
	for _, l := range layouts {
		if lo, err = time.Parse(l.layout, value); err == nil {
			hi, ok = l.step(lo), true
			break
		}
	}
	if !ok {
		return nil, fmt.Errorf("%q is not a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)", value)
	}
	switch prefix {
	case "eq":
		return func(t time.Time) bool { return !t.Before(lo) && t.Before(hi) }, nil
	case "ne":
		return func(t time.Time) bool { return t.Before(lo) || !t.Before(hi) }, nil
	case "gt", "sa":
		return func(t time.Time) bool { return !t.Before(hi) }, nil
	case "ge":
		return func(t time.Time) bool { return !t.Before(lo) }, nil
	case "lt", "eb":
		return func(t time.Time) bool { return t.Before(lo) }, nil
	case "le":
		return func(t time.Time) bool { return t.Before(hi) }, nil
	}
	return nil, fmt.Errorf("unknown prefix %q: use eq, ne, gt, ge, lt or le", prefix)
}
