package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestWrapLabelsRoutesNotPaths: a request is counted under the pattern it
// matched (or the route its handler named), never under its path, so no
// identifier in a URL becomes a label.
func TestWrapLabelsRoutesNotPaths(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewHTTP(reg, "test")
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /v1/blobs/{hash}", func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 100)
		n, _ := r.Body.Read(buf)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(buf[:n])
	})
	mux.HandleFunc("GET /self/", func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r, "GET /Patient/{id}")
		http.Error(w, "no", http.StatusForbidden)
	})
	h := m.Wrap(mux)
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPut, "/v1/blobs/abc123secret", strings.NewReader("twelve bytes")),
		httptest.NewRequest(http.MethodGet, "/self/patient-42", nil),
		httptest.NewRequest(http.MethodGet, "/nothing/here", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for _, want := range []struct {
		route, code string
	}{{"PUT /v1/blobs/{hash}", "201"}, {"GET /Patient/{id}", "403"}, {"unmatched", "404"}} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(want.route, want.code)); got != 1 {
			t.Errorf("requests{route=%q,code=%s} = %v, want 1", want.route, want.code, got)
		}
	}
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("PUT /v1/blobs/{hash}")); got != 12 {
		t.Errorf("request bytes = %v, want 12", got)
	}
	if got := testutil.ToFloat64(m.bytesOut.WithLabelValues("PUT /v1/blobs/{hash}")); got != 12 {
		t.Errorf("response bytes = %v, want 12", got)
	}
	out, err := testutil.CollectAndLint(m.requests)
	if err != nil || len(out) != 0 {
		t.Errorf("lint: %v %v", out, err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if strings.Contains(l.GetValue(), "secret") || strings.Contains(l.GetValue(), "patient-42") {
					t.Errorf("%s has a path in label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestRegisterReusesACollector: two servers in one process share a
// registry's collector instead of panicking.
func TestRegisterReusesACollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewHTTP(reg, "x"), NewHTTP(reg, "x")
	a.requests.WithLabelValues("r", "200").Inc()
	if got := testutil.ToFloat64(b.requests.WithLabelValues("r", "200")); got != 1 {
		t.Fatalf("the second registration counts elsewhere: %v", got)
	}
}
