// Package metrics holds healthd's Prometheus instrumentation that is shared
// by its HTTP servers (vault, portal, FHIR server): request counts, latencies
// and bytes by route, and a registry to serve them from. Labels are never
// identifiers: a route is the pattern the request matched
// ("GET /v1/blobs/{hash}"), never its path, and no account, patient, record
// or hash is ever a label value (docs/operations.md, "Metrics").
package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every healthd metric name.
const Namespace = "healthd"

// NewRegistry returns a registry with the Go runtime and process collectors,
// for a process that serves its own /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Register registers c, or returns the collector of the same description
// already registered (several app instances in one test process share the
// default registry).
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// HTTP counts one server's requests.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	inFlight prometheus.Gauge
}

// NewHTTP registers the request metrics of server ("vault", "portal",
// "fhir") on reg.
func NewHTTP(reg prometheus.Registerer, server string) *HTTP {
	constLabels := prometheus.Labels{"server": server}
	return &HTTP{
		requests: Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total", ConstLabels: constLabels,
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"})),
		duration: Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds", ConstLabels: constLabels,
			Help:    "Time to serve an HTTP request (to the end of the response body), by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route"})),
		bytesIn: Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_bytes_total", ConstLabels: constLabels,
			Help: "Bytes of request bodies read, by route pattern.",
		}, []string{"route"})),
		bytesOut: Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "response_bytes_total", ConstLabels: constLabels,
			Help: "Bytes of response bodies written, by route pattern.",
		}, []string{"route"})),
		inFlight: Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight", ConstLabels: constLabels,
			Help: "HTTP requests being served now.",
		})),
	}
}

// Wrap counts the requests next serves. The route label is what the handler
// named with SetRoute, else the pattern an http.ServeMux inside next matched
// on the request Wrap passed on, else "unmatched".
func (m *HTTP) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		start := time.Now()
		named := new(string)
		r = r.WithContext(context.WithValue(r.Context(), routeKey{}, named))
		body := &countingReader{ReadCloser: r.Body}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = body
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := *named
		if route == "" {
			route = r.Pattern
		}
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		m.bytesIn.WithLabelValues(route).Add(float64(body.n))
		m.bytesOut.WithLabelValues(route).Add(float64(rec.bytes))
	})
}

type routeKey struct{}

// SetRoute names the route of a request served under Wrap, for a handler that
// routes by itself (the FHIR server): a pattern such as "GET /Patient/{id}",
// never the path.
func SetRoute(r *http.Request, route string) {
	if p, ok := r.Context().Value(routeKey{}).(*string); ok {
		*p = route
	}
}

type countingReader struct {
	io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush passes a flush through (streamed responses).
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Serve serves reg's metrics at /metrics on addr until ctx ends. It returns
// once the listener is open (the error of a port in use comes back at once);
// errors after that are passed to logErr.
func Serve(ctx context.Context, addr string, reg *prometheus.Registry, logErr func(error)) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logErr(err)
		}
	}()
	return ln.Addr(), nil
}
