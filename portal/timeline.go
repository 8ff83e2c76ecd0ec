package portal

// The timeline: a person's records with what each one is and when it
// happened, decrypted in this process from records the viewer may read
// without a new disclosure — for the patient every own record (no receipt:
// docs/architecture.md §13), for a provider the records it opened in this
// session. Summaries live in memory for the session only, never on disk, and
// are dropped at logout.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/fhir"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
	recordstypes "github.com/healthd-chain/healthd/x/records/types"
)

const (
	// timelinePage is the default page size, maxTimelinePage the largest.
	timelinePage, maxTimelinePage = 50, 200
	// maxTimeline bounds the records one timeline lists.
	maxTimeline = 100_000
	// maxSummarized bounds a record the timeline decrypts to summarise; a
	// larger one (a scan, an image) shows its class, author and date only.
	maxSummarized = 1 << 20
)

// summaries caches the summaries of the records decrypted this session, by
// record id (a record's content never changes: an amendment is a new record).
// clear starts a new generation: a decryption that began before a logout
// cannot put its summaries into the next session's cache.
type summaries struct {
	mu  sync.Mutex
	gen uint64
	m   map[uint64]fhir.Summary
}

func newSummaries() *summaries { return &summaries{m: map[uint64]fhir.Summary{}} }

func (c *summaries) get(id uint64) (fhir.Summary, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[id]
	return s, ok
}

// generation is the current generation, to hand to put.
func (c *summaries) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put caches s unless the cache was cleared since generation gen.
func (c *summaries) put(gen, id uint64, s fhir.Summary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.m[id] = s
	}
}

// clear drops every summary (logout, session expiry).
func (c *summaries) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// timelineItem is one record of the timeline.
type timelineItem struct {
	recordView
	// Summary is what the record is, if the viewer has it decrypted,
	// without the record view's fields.
	Summary *fhir.Summary `json:"summary,omitempty"`
	// When is the clinical date if known, else the filing time (RFC 3339 or
	// a partial FHIR date); Filed says which.
	When  string `json:"when"`
	Filed bool   `json:"when_is_filing_date"`
	Year  int    `json:"year"`
	// Opened is false for a record the viewer may not read without a new
	// disclosure (a provider that has not opened it this session).
	Opened bool `json:"opened"`
	sortAt time.Time
}

// timelineQuery is a timeline request's filters and page.
type timelineQuery struct {
	patient, purpose string
	classes          []string
	author           string
	from, to         time.Time // inclusive days; zero: open
	year             int
	status           string // current (default: all but earlier versions), active, superseded, erased or all
	q                string
	page, perPage    int
}

func parseTimelineQuery(r *http.Request, me string) (timelineQuery, string) {
	v := r.URL.Query()
	q := timelineQuery{
		patient: strings.TrimSpace(v.Get("patient")), purpose: v.Get("purpose"), author: strings.TrimSpace(v.Get("author")),
		status: v.Get("status"), q: strings.ToLower(strings.TrimSpace(v.Get("q"))), page: 1, perPage: timelinePage,
	}
	if q.patient == "" {
		q.patient = me
	}
	if q.purpose == "" {
		q.purpose = agent.DefaultPurpose
	}
	if err := consenttypes.ValidatePurpose(q.purpose); err != nil {
		return q, "Unknown purpose " + strconv.Quote(q.purpose) + "."
	}
	if c := strings.TrimSpace(v.Get("class")); c != "" {
		for _, class := range strings.Split(c, ",") {
			if consenttypes.ValidateDataClass(class) != nil {
				return q, "Unknown kind of data " + strconv.Quote(class) + "."
			}
			q.classes = append(q.classes, class)
		}
	}
	if q.author != "" && !validAddress(q.author) {
		return q, "The author is not a healthd address."
	}
	for name, t := range map[string]*time.Time{"from": &q.from, "to": &q.to} {
		if s := v.Get(name); s != "" {
			d, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return q, "The " + name + " date must be YYYY-MM-DD."
			}
			*t = d
		}
	}
	if !q.to.IsZero() {
		q.to = q.to.Add(24*time.Hour - time.Nanosecond)
	}
	switch q.status {
	case "":
		q.status = "current"
	case "current", "active", "superseded", "erased", "all":
	default:
		return q, "The status must be current, active, superseded, erased or all."
	}
	for name, p := range map[string]*int{"year": &q.year, "page": &q.page, "per_page": &q.perPage} {
		if s := v.Get(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || name == "year" && n > 9999 {
				return q, "The " + name + " must be a positive number."
			}
			*p = n
		}
	}
	q.perPage = min(q.perPage, maxTimelinePage)
	if q.page > maxTimeline {
		return q, fmt.Sprintf("The page must be at most %d.", maxTimeline)
	}
	return q, ""
}

// timeline serves GET /api/timeline: the patient's records (default: mine),
// with summaries where the viewer has them, filtered, sorted by clinical
// date (newest first, then by record id), one page at a time.
func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	me := s.agent.Address()
	q, bad := parseTimelineQuery(r, me)
	if bad != "" {
		badRequest(w, bad)
		return
	}
	if !checkAddress(w, "The patient", &q.patient) {
		return
	}
	if _, err := s.agent.Patient(ctx, q.patient); err != nil {
		if agent.ChainUnreachable(err) {
			writeFailure(w, err)
			return
		}
		writeError(w, http.StatusNotFound, "not_a_patient", "No patient is registered at this address.")
		return
	}
	all, truncated, err := s.timelineItems(ctx, q.patient, q.purpose)
	if err != nil {
		writeFailure(w, err)
		return
	}
	facets := timelineFacets(all)
	var hits []timelineItem
	for _, it := range all {
		if q.matches(it) {
			hits = append(hits, it)
		}
	}
	start := min((q.page-1)*q.perPage, len(hits))
	page := hits[start:min(start+q.perPage, len(hits))]
	writeJSON(w, http.StatusOK, map[string]any{
		"patient": q.patient, "all": len(all), "total": len(hits), "page": q.page, "per_page": q.perPage,
		"pages": (len(hits) + q.perPage - 1) / q.perPage, "items": page, "facets": facets,
		"truncated": truncated,
	})
}

// receiptFreshness is how old a provider's receipt may be for the timeline
// to download its record again: the vault's default --receipt-max-age. A
// vault configured stricter refuses, and the record shows unopened.
const receiptFreshness = 15 * time.Minute

// timelineItems is every record of patient as the viewer sees it, sorted
// newest first by clinical date, then by record id. The viewer's own records
// are summarised without receipts; a provider's, from the records it opened
// this session or holds a fresh receipt for (no new receipt is taken).
func (s *Server) timelineItems(ctx context.Context, patient, purpose string) ([]timelineItem, bool, error) {
	me := s.agent.Address()
	recs, err := s.agent.RecordsOf(ctx, patient, maxTimeline)
	if err != nil {
		return nil, false, err
	}
	var refusals []error
	if patient == me {
		err = s.summarizeOwn(ctx, recs)
	} else {
		if refusals, err = s.agent.ReadRefusals(ctx, recs, purpose); err == nil {
			err = s.summarizeReceipted(ctx, patient, recs)
		}
	}
	if err != nil {
		return nil, false, err
	}
	all := make([]timelineItem, 0, len(recs))
	for i, rec := range recs {
		it := s.timelineItem(ctx, rec)
		if patient != me && rec.Status != recordstypes.RECORD_STATUS_ERASED {
			ok := refusals[i] == nil
			it.Readable = &ok
			if !ok {
				it.Refusal = classify(refusals[i]).Message
			}
		}
		all = append(all, it)
	}
	slices.SortStableFunc(all, func(a, b timelineItem) int {
		if c := b.sortAt.Compare(a.sortAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return all, len(recs) >= maxTimeline, nil
}

// summarizeReceipted decrypts, by the viewer's fresh receipts (no new one),
// the records of patient it has no summary of yet, and caches their
// summaries.
func (s *Server) summarizeReceipted(ctx context.Context, patient string, recs []recordstypes.Record) error {
	gen := s.summaries.generation()
	fresh, err := s.agent.FreshReceipts(ctx, patient, time.Now().Add(-receiptFreshness))
	if err != nil || len(fresh) == 0 {
		return err
	}
	receiptOf := map[uint64]uint64{}
	for _, r := range fresh { // newest first: keep the newest receipt of each record
		if _, ok := receiptOf[r.RecordId]; !ok {
			receiptOf[r.RecordId] = r.Id
		}
	}
	var todo []recordstypes.Record
	var receipts []uint64
	for _, rec := range recs {
		id, ok := receiptOf[rec.Id]
		if _, cached := s.summaries.get(rec.Id); !ok || cached || rec.Status == recordstypes.RECORD_STATUS_ERASED || rec.Size_ > maxSummarized {
			continue
		}
		todo, receipts = append(todo, rec), append(receipts, id)
	}
	if len(todo) == 0 {
		return nil
	}
	opened, err := s.agent.ReadByReceipts(ctx, todo, receipts, "")
	if err != nil {
		return err
	}
	for _, o := range opened {
		if o.Err == nil {
			s.summaries.put(gen, o.Record.Id, fhir.Summarize(o.Plain))
		}
	}
	return nil
}

// summarizeOwn decrypts, without receipts, the viewer's own records it has
// no summary of yet, and caches their summaries.
func (s *Server) summarizeOwn(ctx context.Context, recs []recordstypes.Record) error {
	gen := s.summaries.generation()
	var todo []recordstypes.Record
	for _, rec := range recs {
		if _, ok := s.summaries.get(rec.Id); ok || rec.Status == recordstypes.RECORD_STATUS_ERASED || rec.Size_ > maxSummarized {
			continue
		}
		todo = append(todo, rec)
	}
	if len(todo) == 0 {
		return nil
	}
	opened, err := s.agent.ReadOwn(ctx, todo, "")
	if err != nil {
		return err
	}
	for _, o := range opened {
		if o.Err != nil {
			continue // shown without a summary; opening it says why
		}
		s.summaries.put(gen, o.Record.Id, fhir.Summarize(o.Plain))
	}
	return nil
}

// timelineItem is rec as the timeline shows it.
func (s *Server) timelineItem(ctx context.Context, rec recordstypes.Record) timelineItem {
	it := timelineItem{recordView: s.viewRecord(ctx, rec), When: rec.CreatedAt.UTC().Format(time.RFC3339), Filed: true, sortAt: rec.CreatedAt}
	if sum, ok := s.summaries.get(rec.Id); ok && rec.Status != recordstypes.RECORD_STATUS_ERASED {
		sum.Fields, sum.Attachment = nil, nil // the record view's; lists leave them out
		it.Summary, it.Opened = &sum, true
		if t, ok := fhirTime(sum.Date); ok {
			it.When, it.Filed, it.sortAt = sum.Date, false, t
		}
	}
	it.Year = it.sortAt.Year()
	return it
}

// fhirTime parses a FHIR date or dateTime, partial ones included ("2019",
// "2019-03", "2019-03-04", with a time and zone).
func fhirTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", time.DateOnly, "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (q timelineQuery) matches(it timelineItem) bool {
	switch {
	case q.status == "current" && it.Status == "superseded", q.status != "all" && q.status != "current" && it.Status != q.status:
		return false
	case len(q.classes) > 0 && !slices.Contains(q.classes, it.Class):
		return false
	case q.author != "" && it.Author.Address != q.author:
		return false
	case !q.from.IsZero() && it.sortAt.Before(q.from), !q.to.IsZero() && it.sortAt.After(q.to):
		return false
	case q.year != 0 && it.Year != q.year:
		return false
	case q.q != "":
		text := strings.ToLower(strings.Join([]string{it.Class, it.FHIRType, it.Author.Name}, " "))
		if it.Summary != nil {
			text += " " + it.Summary.Text()
		}
		return strings.Contains(text, q.q)
	}
	return true
}

// facetCount is one value of a filter and how many records have it.
type facetCount struct {
	Value string `json:"value"`
	Label string `json:"label,omitempty"`
	Count int    `json:"count"`
}

// timelineFacets counts the records by class, year, author and status, for
// the filters.
func timelineFacets(items []timelineItem) map[string][]facetCount {
	count := func(key func(timelineItem) (string, string)) []facetCount {
		idx := map[string]int{}
		var out []facetCount
		for _, it := range items {
			v, label := key(it)
			if i, ok := idx[v]; ok {
				out[i].Count++
				continue
			}
			idx[v] = len(out)
			out = append(out, facetCount{Value: v, Label: label, Count: 1})
		}
		slices.SortStableFunc(out, func(a, b facetCount) int { return strings.Compare(a.Value, b.Value) })
		return out
	}
	years := count(func(it timelineItem) (string, string) { return strconv.Itoa(it.Year), "" })
	slices.Reverse(years)
	return map[string][]facetCount{
		"classes":  count(func(it timelineItem) (string, string) { return it.Class, "" }),
		"years":    years,
		"authors":  count(func(it timelineItem) (string, string) { return it.Author.Address, it.Author.Name }),
		"statuses": count(func(it timelineItem) (string, string) { return it.Status, "" }),
	}
}

// exportRecords serves POST /api/export: the viewer's own records of the
// body's ids as one FHIR Bundle, decrypted here without receipts. Records of
// other patients are not exported from the portal (`healthd fhir export`
// takes their receipts).
func (s *Server) exportRecords(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	var body struct {
		RecordIDs []uint64 `json:"record_ids"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if len(body.RecordIDs) == 0 || len(body.RecordIDs) > maxTimeline {
		badRequest(w, "Choose the records to export.")
		return
	}
	recs := make([]recordstypes.Record, 0, len(body.RecordIDs))
	for _, id := range body.RecordIDs {
		rec, err := s.agent.Record(ctx, id)
		if err != nil {
			writeFailure(w, err)
			return
		}
		recs = append(recs, rec)
	}
	opened, err := s.agent.ReadOwn(ctx, recs, "")
	if err != nil {
		writeFailure(w, err)
		return
	}
	for _, o := range opened {
		if errors.Is(o.Err, agent.ErrNotOwn) {
			writeError(w, http.StatusForbidden, "not_own",
				"The portal exports only your own records. To export a patient's records, use `healthd fhir export`.")
			return
		}
	}
	b, notRead := agent.BundleOf(opened)
	if len(notRead) > 0 {
		w.Header().Set("X-Not-Exported", strconv.Itoa(len(notRead)))
	}
	w.Header().Set("Content-Disposition", `attachment; filename="healthd-export.json"`)
	writeJSON(w, http.StatusOK, b)
}
