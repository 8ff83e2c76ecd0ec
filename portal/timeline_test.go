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
