// Package server is `healthd fhir serve`: one organization's FHIR R4 REST
// endpoint, run by a hospital next to its EHR with the hospital's key.
//
// Who may call it is decided by SMART Backend Services (package smart): a
// registered client gets a short-lived bearer token for some system scopes and
// one purpose of use, and a call outside its scopes is refused before anything
// reaches the chain. Whether the hospital may read or write a patient's data
// is decided by the chain, as everywhere in healthd: every read takes an
// access receipt (MsgAccessRecord; none only if the hospital's key were the
// record's patient, whose own reads disclose nothing) and every write is a
// record the chain
// checks against the patient's consents; a refusal is a 403 OperationOutcome
// carrying the chain's reason. Keys stay in this process: it encrypts,
// decrypts and signs through client/agent, the code of the CLI.
//
// The mapping: a resource is one encrypted record; its FHIR id is the id of
// the first record of its amendment chain and meta.versionId its position in
// that chain. The EHR names patients by its own ids (MRNs); the server maps
// them to chain addresses with a hospital-local table (Patients), never on
// chain.
package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/healthd-chain/healthd/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/fhir/smart"
	"github.com/healthd-chain/healthd/internal/httpstatus"
)

// ContentType is the media type of every FHIR response.
const ContentType = "application/fhir+json; charset=utf-8"

// Options configure a Server.
type Options struct {
	// BaseURL is the server's public base URL (e.g. https://fhir.example.org):
	// the token endpoint's URL, which client assertions name as their
	// audience, and the base of every absolute URL in responses.
	BaseURL string
	// VaultURL is the vault new records are uploaded to.
	VaultURL string
	// Clients are the registered SMART backend clients.
	Clients smart.Config
	// Patients is the MRN table.
	Patients *Patients
	// MRNSystems are the identifier systems of the EHR's MRNs: a Patient
	// resource's identifier names a patient of the table only under one of
	// them (default MRNSystem).
	MRNSystems []string
	// Logger gets one line per request: method, route, status, duration,
	// client. Never a body, a query string or an id.
	Logger *slog.Logger
	// MaxBundleEntries bounds a transaction or batch Bundle (default 1000).
	MaxBundleEntries int
	// MaxBody bounds a request body (default 32 MiB).
	MaxBody int64
	// DefaultCount and MaxCount are a search page's default and largest
	// size (default 50 and 500): each resource in a page is a read.
	DefaultCount, MaxCount int
	// Metrics, if set, is where the request metrics are registered
	// (healthd_http_*{server="fhir"}); nil counts them unserved.
	Metrics prometheus.Registerer
}

// Server is the FHIR server's HTTP handler.
type Server struct {
	agent *agent.Agent
	auth  *smart.Authority
	opts  Options
	// chainID names the chain as the audit source.
	chainID string
	names   sync.Map // provider address → registry name
	// handler is serve under the request metrics.
	handler http.Handler
}

// New returns a server acting as a's account.
func New(a *agent.Agent, opts Options) (*Server, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q: want http(s)://host[:port][/path]", opts.BaseURL)
	}
	if opts.Patients == nil {
		return nil, fmt.Errorf("no patient table")
	}
	// the same checks as the clients file's, for a Config built in code
	if err := opts.Clients.Validate(); err != nil {
		return nil, err
	}
	opts.BaseURL = strings.TrimSuffix(opts.BaseURL, "/")
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(opts.MRNSystems) == 0 {
		opts.MRNSystems = []string{MRNSystem}
	}
	if opts.MaxBundleEntries <= 0 {
		opts.MaxBundleEntries = 1000
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 32 << 20
	}
	if opts.DefaultCount <= 0 {
		opts.DefaultCount = 50
	}
	if opts.MaxCount <= 0 {
		opts.MaxCount = 500
	}
	s := &Server{agent: a, auth: smart.NewAuthority(opts.Clients, opts.BaseURL+"/token"), opts: opts}
	reg := opts.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.handler = metrics.NewHTTP(reg, "fhir").Wrap(http.HandlerFunc(s.serve))
	if a != nil { // the unit tests run without a chain
		s.chainID = a.ClientContext().ChainID
	}
	return s, nil
}

// request is one authenticated call.
type request struct {
	r *http.Request
	// w is the request's response (a *requestWriter), for the failures of a
	// Bundle's entries.
	w     http.ResponseWriter
	grant smart.Grant
	// route is the request's shape for the log (e.g. "GET /Observation/{id}").
	route string
}

// ServeHTTP serves a request, counted in the request metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// serve routes a request. Every response is JSON; every error an
// OperationOutcome (the token endpoint's are OAuth errors).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := httpstatus.New(w)
	rw := &requestWriter{ResponseWriter: sw, id: newRequestID()}
	req := &request{r: r, w: rw, route: routeMethod(r) + " ?"}
	defer func() {
		if p := recover(); p != nil {
			s.opts.Logger.Error("panic", "route", req.route, "request_id", rw.id, "panic", fmt.Sprint(p))
			writeOutcome(sw, http.StatusInternalServerError, issue("exception", "internal error (request id "+rw.id+")"))
		}
		metrics.SetRoute(r, req.route)
		attrs := []any{"route", req.route, "status", sw.Status, "ms", time.Since(start).Milliseconds(), "client", req.grant.ClientID, "request_id", rw.id}
		if rw.err != nil {
			// the error's text names no patient: accounts are taken out, and
			// the agent's errors carry ids and hashes, never content or MRNs
			attrs = append(attrs, "error", scrubAccounts(rw.err.Error()))
		}
		s.opts.Logger.Info("request", attrs...)
	}()
	h := sw.Header()
	h.Set("X-Request-Id", rw.id)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	r.Body = http.MaxBytesReader(sw, r.Body, s.opts.MaxBody)
	s.route(rw, req)
}

// route dispatches on the path: the fixed endpoints, then
// [type[/id[/_history/vid | /$everything]]].
func (s *Server) route(w http.ResponseWriter, q *request) {
	r := q.r
	path := strings.Trim(r.URL.Path, "/")
	switch path {
	case ".well-known/smart-configuration":
		q.route = "GET /.well-known/smart-configuration"
		if !method(w, r, http.MethodGet) {
			return
		}
		writeJSON(w, http.StatusOK, "application/json", s.smartConfiguration())
		return
	case "token":
		q.route = "POST /token"
		if !method(w, r, http.MethodPost) {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10) // a form with one JWT
		s.token(w, r)
		return
	case "metadata":
		q.route = "GET /metadata"
		if !method(w, r, http.MethodGet) || !s.formatOK(w, r) {
			return
		}
		writeResource(w, http.StatusOK, s.capabilityStatement())
		return
	}
	if !s.formatOK(w, r) {
		return
	}
	g, err := s.auth.Check(r.Header.Get("Authorization"))
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="healthd", error="invalid_token"`)
		writeOutcome(w, http.StatusUnauthorized, issue("login", err.Error()))
		return
	}
	q.grant = g
	parts := strings.Split(path, "/")
	if path == "" {
		parts = nil
	}
	switch {
	case len(parts) == 0:
		q.route = routeMethod(r) + " /"
		if method(w, r, http.MethodPost) {
			s.bundle(w, q)
		}
	case !validTypeSegment(parts[0]):
		writeOutcome(w, http.StatusNotFound, issue("not-supported", fmt.Sprintf("%q is not a FHIR R4 resource type", parts[0])))
	case len(parts) == 1:
		q.route = routeMethod(r) + " /" + parts[0]
		switch r.Method {
		case http.MethodGet:
			s.search(w, q, parts[0])
		case http.MethodPost:
			if parts[0] == "_search" {
				writeOutcome(w, http.StatusMethodNotAllowed, issue("not-supported", "POST _search is not supported: use GET"))
				return
			}
			s.create(w, q, parts[0])
		default:
			notAllowed(w, "GET, POST")
		}
	case len(parts) == 2:
		q.route = routeMethod(r) + " /" + parts[0] + "/{id}"
		switch r.Method {
		case http.MethodGet:
			s.read(w, q, parts[0], parts[1], 0)
		case http.MethodPut:
			s.update(w, q, parts[0], parts[1])
		case http.MethodDelete:
			writeOutcome(w, http.StatusMethodNotAllowed, issue("not-supported",
				"records are not deleted through the FHIR API: erasure is the patient's own act (healthd records erase, or the portal)"))
		default:
			notAllowed(w, "GET, PUT")
		}
	case len(parts) == 3 && parts[0] == "Patient" && parts[2] == "$everything":
		q.route = routeMethod(r) + " /Patient/{id}/$everything"
		if method(w, r, http.MethodGet) {
			s.everything(w, q, parts[1])
		}
	case len(parts) == 4 && parts[2] == "_history":
		q.route = routeMethod(r) + " /" + parts[0] + "/{id}/_history/{vid}"
		if !method(w, r, http.MethodGet) {
			return
		}
		vid, ok := positiveInt(parts[3])
		if !ok {
			writeOutcome(w, http.StatusNotFound, issue("not-found", "a version id is a positive integer"))
			return
		}
		s.read(w, q, parts[0], parts[1], vid)
	default:
		writeOutcome(w, http.StatusNotFound, issue("not-supported", "no such endpoint: see /metadata"))
	}
}

func validTypeSegment(t string) bool { return t == "_search" || knownType(t) }

// routeMethod is the request's method for the route name of logs and metric
// labels: one of HTTP's, or OTHER (a client picks the method string, and a
// label must stay in a closed set).
func routeMethod(r *http.Request) string {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return r.Method
	}
	return "OTHER"
}

// method accepts only m (HEAD is not served: a HEAD of a resource would take
// a receipt for content it does not return).
func method(w http.ResponseWriter, r *http.Request, m string) bool {
	if r.Method == m {
		return true
	}
	notAllowed(w, m)
	return false
}

func notAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeOutcome(w, http.StatusMethodNotAllowed, issue("not-supported", "method not allowed here; allowed: "+allow))
}

// formatOK accepts only FHIR JSON: _format and Accept may ask for json,
// application/json or application/fhir+json (XML and Turtle are not served).
func (s *Server) formatOK(w http.ResponseWriter, r *http.Request) bool {
	if f := r.URL.Query().Get("_format"); f != "" {
		switch f {
		case "json", "application/json", "application/fhir+json":
		default:
			writeOutcome(w, http.StatusUnsupportedMediaType, issue("not-supported", fmt.Sprintf("_format=%s: only json is served", f)))
			return false
		}
		return true
	}
	if acc := r.Header.Get("Accept"); acc != "" && !acceptsJSON(acc) {
		writeOutcome(w, http.StatusNotAcceptable, issue("not-supported", "only application/fhir+json is served"))
		return false
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		ct := r.Header.Get("Content-Type")
		if r.URL.Path != "/token" && ct != "" && !acceptsJSON(ct) {
			writeOutcome(w, http.StatusUnsupportedMediaType, issue("not-supported", "send application/fhir+json"))
			return false
		}
	}
	return true
}

func acceptsJSON(h string) bool {
	for _, part := range strings.Split(h, ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		switch mt {
		case "*/*", "application/*", "application/json", "application/fhir+json", "application/json+fhir":
			return true
		}
	}
	return false
}

// token is the SMART Backend Services token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, "application/json", &smart.Error{Code: "invalid_request", Description: "a form body is expected"})
		return
	}
	resp, err := s.auth.Token(r.PostForm.Get("grant_type"), r.PostForm.Get("client_assertion_type"),
		r.PostForm.Get("client_assertion"), r.PostForm.Get("scope"), r.PostForm.Get("purpose_of_use"))
	if err != nil {
		status := http.StatusBadRequest
		var oe *smart.Error
		if asOAuth(err, &oe) && oe.Code == "invalid_client" {
			status = http.StatusUnauthorized
		}
		if oe == nil { // not the client's fault: say nothing of it but the request id
			desc := "internal error"
			if rw, ok := w.(*requestWriter); ok {
				rw.err, desc = err, desc+" (request id "+rw.id+")"
			}
			oe = &smart.Error{Code: "server_error", Description: desc}
			status = http.StatusInternalServerError
		}
		writeJSON(w, status, "application/json", oe)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", resp)
}

// smartConfiguration is /.well-known/smart-configuration.
func (s *Server) smartConfiguration() map[string]any {
	return map[string]any{
		"issuer":                                s.opts.BaseURL,
		"token_endpoint":                        s.opts.BaseURL + "/token",
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS384", "ES384"},
		"grant_types_supported":                            []string{"client_credentials"},
		"scopes_supported":                                 []string{"system/*.cruds", "system/*.rs", "system/*.c", "system/*.u"},
		"capabilities":                                     []string{"client-confidential-asymmetric", "permission-v2"},
	}
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeResource writes a FHIR resource.
func writeResource(w http.ResponseWriter, status int, v any) { writeJSON(w, status, ContentType, v) }
