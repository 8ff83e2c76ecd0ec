package portal

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/fhir"
)

func TestTimelineQuery(t *testing.T) {
	me := "health1yuw2jxyv3zdrpscxfrkctm2zfttvwuas42w95x"
	q, bad := parseTimelineQuery(httptest.NewRequest("GET", "/api/timeline", nil), me)
	if bad != "" || q.patient != me || q.status != "current" || q.page != 1 || q.perPage != timelinePage {
		t.Fatalf("defaults: %+v %q", q, bad)
	}
	q, bad = parseTimelineQuery(httptest.NewRequest("GET", "/api/timeline?class=lab-result,allergy&from=2024-01-01&to=2024-12-31&per_page=1000&page=3&q=+Glucose+", nil), me)
	if bad != "" || len(q.classes) != 2 || q.perPage != maxTimelinePage || q.page != 3 || q.q != "glucose" ||
		!q.to.Equal(time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC)) {
		t.Fatalf("parsed: %+v %q", q, bad)
	}
	for _, query := range []string{"class=blood", "from=2024-13-01", "status=deleted", "page=0", "page=x", "author=bob", "purpose=SPY", "year=10000"} {
		if _, bad := parseTimelineQuery(httptest.NewRequest("GET", "/api/timeline?"+query, nil), me); bad == "" {
			t.Errorf("%s was accepted", query)
		}
	}
}

func TestTimelineMatchesAndFacets(t *testing.T) {
	at := func(s string) time.Time { tm, _ := fhirTime(s); return tm }
	sum := fhir.Summary{Type: "Observation", Title: "Glucose", Value: "98 mg/dL"}
	items := []timelineItem{
		{recordView: recordView{ID: 1, Class: "lab-result", Status: "active", Author: party{Address: "a1", Name: "Lab"}}, Summary: &sum, sortAt: at("2024-05-02"), Year: 2024},
		{recordView: recordView{ID: 2, Class: "allergy", Status: "superseded"}, sortAt: at("2019"), Year: 2019},
		{recordView: recordView{ID: 3, Class: "allergy", Status: "erased"}, sortAt: at("2019-03"), Year: 2019},
	}
	hits := func(q timelineQuery) (ids []uint64) {
		for _, it := range items {
			if q.matches(it) {
				ids = append(ids, it.ID)
			}
		}
		return ids
	}
	cases := map[string]struct {
		q    timelineQuery
		want int
	}{
		"current hides earlier versions": {timelineQuery{status: "current"}, 2},
		"all":                            {timelineQuery{status: "all"}, 3},
		"search in the decrypted text":   {timelineQuery{status: "all", q: "mg/dl"}, 1},
		"search by the author's name":    {timelineQuery{status: "all", q: "lab"}, 1},
		"class":                          {timelineQuery{status: "all", classes: []string{"allergy"}}, 2},
		"year":                           {timelineQuery{status: "all", year: 2019}, 2},
		"date range":                     {timelineQuery{status: "all", from: at("2019-02-01"), to: at("2019-12-31")}, 1},
		"author":                         {timelineQuery{status: "all", author: "a1"}, 1},
	}
	for name, c := range cases {
		if got := hits(c.q); len(got) != c.want {
			t.Errorf("%s: %v", name, got)
		}
	}
	f := timelineFacets(items)
	if len(f["classes"]) != 2 || f["classes"][1].Value != "lab-result" || f["years"][0].Value != "2024" || f["years"][1].Count != 2 {
		t.Fatalf("facets: %+v", f)
	}
	for _, s := range []string{"2019", "2019-03", "2019-03-04", "2019-03-04T10:00:00Z", "2019-03-04T10:00:00.5+02:00"} {
		if _, ok := fhirTime(s); !ok {
			t.Errorf("%s does not parse", s)
		}
	}
}

func TestSummarySections(t *testing.T) {
	item := func(id uint64, class string, sum *fhir.Summary) timelineItem {
		return timelineItem{recordView: recordView{ID: id, Class: class, Status: "active"}, Summary: sum}
	}
	items := []timelineItem{ // newest first, as timelineItems sorts them
		item(9, "vital-signs", &fhir.Summary{Type: "Observation", Title: "Heart rate", Code: "loinc|8867-4", Category: "vital-signs"}),
		item(8, "vital-signs", &fhir.Summary{Type: "Observation", Title: "Heart rate", Code: "loinc|8867-4", Category: "vital-signs"}),
		item(7, "allergy", &fhir.Summary{Type: "AllergyIntolerance", Title: "Penicillin"}),
		item(6, "allergy", &fhir.Summary{Type: "AllergyIntolerance", Title: "Latex", Status: "resolved"}),
		item(5, "prescription", &fhir.Summary{Type: "MedicationRequest", Title: "Metformin", Status: "active"}),
		item(4, "prescription", &fhir.Summary{Type: "MedicationRequest", Title: "Amoxicillin", Status: "completed"}),
		item(3, "diagnosis", &fhir.Summary{Type: "Condition", Title: "Asthma", Status: "active"}),
		item(2, "lab-result", nil), // not opened
		item(1, "immunization", &fhir.Summary{Type: "Immunization", Title: "Tdap", Status: "completed"}),
	}
	items = append(items, timelineItem{
		recordView: recordView{ID: 10, Class: "allergy", Status: "superseded"},
		Summary:    &fhir.Summary{Type: "AllergyIntolerance", Title: "Old version"},
	})
	got := map[string][]uint64{}
	notOpened := map[string]int{}
	for _, sec := range summarySections(items) {
		for _, it := range sec.Items {
			got[sec.ID] = append(got[sec.ID], it.ID)
		}
		notOpened[sec.ID] = sec.NotOpened
	}
	want := map[string][]uint64{"vitals": {9}, "allergies": {7}, "medications": {5}, "problems": {3}, "immunizations": {1}}
	for id, ids := range want {
		if len(got[id]) != len(ids) || got[id][0] != ids[0] {
			t.Errorf("%s: %v, want %v", id, got[id], ids)
		}
	}
	if len(got["results"]) != 0 || notOpened["results"] != 1 {
		t.Errorf("results: %v, %d not opened", got["results"], notOpened["results"])
	}
}

// TestSummariesEndWithTheSession: what was decrypted is dropped when the
// session expires, even if the browser never comes back, and a decryption
// that began before a logout cannot refill the next session's cache.
func TestSummariesEndWithTheSession(t *testing.T) {
	p, srv := testPortal(t)
	login(t, p, srv)
	gen := p.summaries.generation()
	p.summaries.put(gen, 1, fhir.Summary{Title: "Glucose"})
	p.sweepSessions() // the session is still live: nothing is dropped
	if _, ok := p.summaries.get(1); !ok {
		t.Fatal("a live session's summary was dropped")
	}
	p.sessMu.Lock()
	p.now = func() time.Time { return time.Now().Add(p.opts.SessionTTL + time.Second) }
	p.sessMu.Unlock()
	p.sweepSessions() // what the expiry timer calls
	if _, ok := p.summaries.get(1); ok {
		t.Fatal("the summary outlived its session")
	}
	p.summaries.put(gen, 2, fhir.Summary{Title: "late"}) // a load that began before
	if _, ok := p.summaries.get(2); ok {
		t.Fatal("a decryption from before the logout refilled the cache")
	}
	if _, bad := parseTimelineQuery(httptest.NewRequest("GET", "/api/timeline?page=4611686018427387905&per_page=3", nil), "x"); bad == "" {
		t.Fatal("a page number that overflows was accepted")
	}
}
