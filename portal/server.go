// Package portal is `healthd portal`: a local web app for the holder of one
// key. The page talks only to its own origin; everything that needs the key
// (signing, encryption, decryption) runs in this process through
// internal/agent, the same code as the CLI.
//
// Security model. The portal can sign for its key, so whoever can drive it
// acts as that account. It therefore:
//   - binds to loopback by default;
//   - requires a secret login token (printed at start, or written to
//     --url-file) which it exchanges, once, for an HttpOnly, SameSite=Strict
//     cookie holding a random session id that expires;
//   - requires a per-process CSRF token in a header on every state-changing
//     request, and rejects cross-origin requests (Sec-Fetch-Site / Origin);
//   - accepts only its own Host names (no DNS rebinding);
//   - serves a strict Content-Security-Policy: scripts, styles and
//     connections only from itself, no inline script, no frames.
package portal

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/healthd-chain/healthd/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/internal/httpstatus"
)

//go:embed static
var staticFiles embed.FS

// csp is the Content-Security-Policy of every response.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configure a Server.
type Options struct {
	// VaultURL is the vault new records are uploaded to.
	VaultURL string
	// Hosts are the Host header values the portal answers to (host:port).
	Hosts []string
	// Logger gets one line per request (no bodies, no query strings).
	Logger *slog.Logger
	// MaxUpload bounds a file or Bundle upload (default 64 MiB).
	MaxUpload int64
	// SessionTTL is how long a signed-in session lasts (default 12 hours).
	SessionTTL time.Duration
	// Metrics, if set, is where the request metrics are registered
	// (healthd_http_*{server="portal"}); nil counts them unserved.
	Metrics prometheus.Registerer
}

// Server is the portal's HTTP handler.
type Server struct {
	agent *agent.Agent
	opts  Options
	token string
	csrf  string
	// cookie is the session cookie's name. Cookies are shared by every port
	// of a host, so two portals on one machine (a clinician's and a
	// patient's, say) need different names.
	cookie string
	index  *template.Template
	mux    *http.ServeMux
	// handler is serve under the request metrics.
	handler http.Handler
	names   *nameCache
	// summaries are the session's decrypted summaries (timeline.go): in
	// memory only, dropped at logout.
	summaries *summaries
	// writeMu serialises transactions: they share the account's sequence.
	writeMu sync.Mutex

	// The login token opens one session, once: it is exchanged for a random
	// session id that expires, so the link (in a shell history, a URL file, a
	// screenshot) is worth nothing after its first use, and the cookie never
	// carries it.
	sessMu    sync.Mutex
	tokenUsed bool
	sessions  map[string]time.Time // session id → expiry
	now       func() time.Time
}

// New returns a portal for a's account.
func New(a *agent.Agent, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxUpload == 0 {
		opts.MaxUpload = 64 << 20
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	token, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	csrf, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	index, err := template.ParseFS(staticFiles, "static/index.html")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(token))
	s := &Server{
		agent: a, opts: opts, token: token, csrf: csrf, cookie: "healthd_portal_" + hex.EncodeToString(sum[:4]),
		index: index, names: newNameCache(a), summaries: newSummaries(), sessions: map[string]time.Time{}, now: time.Now,
	}
	s.routes()
	reg := opts.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.handler = metrics.NewHTTP(reg, "portal").Wrap(http.HandlerFunc(s.serve))
	return s, nil
}

// LoginPath is the path, with the secret token, that opens a session.
func (s *Server) LoginPath() string { return "/login?token=" + s.token }

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /login", s.login)
	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })

	s.mux.HandleFunc("GET /api/session", s.authed(s.session))
	s.mux.HandleFunc("POST /api/records", s.mutating(s.fileRecord))
	s.mux.HandleFunc("POST /api/records/{id}/read", s.mutating(s.readRecord))
	s.mux.HandleFunc("POST /api/records/{id}/open", s.mutating(s.openRecord))
	s.mux.HandleFunc("POST /api/records/{id}/amend", s.mutating(s.amendRecord))
	s.mux.HandleFunc("GET /api/timeline", s.authed(s.timeline))
	s.mux.HandleFunc("POST /api/logout", s.mutating(s.logout))
	s.mux.HandleFunc("POST /api/export", s.mutating(s.exportRecords))
	s.mux.HandleFunc("GET /api/summary", s.authed(s.emergencySummary))
	s.mux.HandleFunc("POST /api/summary/open", s.mutating(s.openForSummary))
	s.mux.HandleFunc("POST /api/records/{id}/erase", s.mutating(s.eraseRecord))
	s.mux.HandleFunc("GET /api/consents", s.authed(s.listConsents))
	s.mux.HandleFunc("POST /api/consents", s.mutating(s.grantConsent))
	s.mux.HandleFunc("POST /api/consents/{id}/revoke", s.mutating(s.revokeConsent))
	s.mux.HandleFunc("GET /api/receipts", s.authed(s.listReceipts))
	s.mux.HandleFunc("POST /api/delegates", s.mutating(s.addDelegate))
	s.mux.HandleFunc("POST /api/delegates/{addr}/remove", s.mutating(s.removeDelegate))
	s.mux.HandleFunc("POST /api/break-glass", s.mutating(s.breakGlass))
	s.mux.HandleFunc("POST /api/escrow", s.mutating(s.ensureEscrow))
	s.mux.HandleFunc("POST /api/rotate", s.mutating(s.rotateKeys))
	s.mux.HandleFunc("GET /api/providers/{addr}", s.authed(s.provider))
}

// ServeHTTP serves a request, counted in the request metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// serve applies the headers and checks every request shares, then routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	rw := httpstatus.New(w)
	if !s.hostAllowed(r.Host) {
		writeError(rw, http.StatusMisdirectedRequest, "bad_host", "This portal answers only on "+strings.Join(s.opts.Hosts, ", ")+".")
	} else {
		s.mux.ServeHTTP(rw, r)
	}
	s.opts.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", rw.Status, "ms", time.Since(start).Milliseconds())
}

func (s *Server) hostAllowed(host string) bool {
	if len(s.opts.Hosts) == 0 {
		return true
	}
	for _, h := range s.opts.Hosts {
		if strings.EqualFold(h, host) {
			return true
		}
	}
	return false
}

// login exchanges the secret token, once, for a session cookie holding a
// fresh random id that expires after SessionTTL.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("token")), []byte(s.token)) != 1 {
		writeError(w, http.StatusUnauthorized, "bad_token",
			"This link is not valid. Use the link `healthd portal` printed when it started.")
		return
	}
	id, err := randomHex(32)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "Could not open a session.")
		return
	}
	s.sessMu.Lock()
	if s.tokenUsed {
		s.sessMu.Unlock()
		writeError(w, http.StatusUnauthorized, "link_used",
			"This link was already used to sign in. Restart `healthd portal` for a new one.")
		return
	}
	s.tokenUsed = true
	expires := s.now().Add(s.opts.SessionTTL)
	s.sessions[id] = expires
	s.sessMu.Unlock()
	// at expiry, whether or not the browser comes back, forget what was
	// decrypted for the session
	time.AfterFunc(s.opts.SessionTTL, s.sweepSessions)
	http.SetCookie(w, &http.Cookie{
		Name: s.cookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil, Expires: expires,
	})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends every session and drops what the portal decrypted for them.
// The login link was good for one use: to sign in again, restart the portal.
func (s *Server) logout(w http.ResponseWriter, _ *http.Request) {
	s.sessMu.Lock()
	clear(s.sessions)
	s.sessMu.Unlock()
	s.summaries.clear()
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	writeJSON(w, http.StatusOK, map[string]any{"signed_out": true})
}

// sweepSessions ends the expired sessions and, when none is left, drops
// the decrypted summaries.
func (s *Server) sweepSessions() {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	for id, expires := range s.sessions {
		if !s.now().Before(expires) {
			delete(s.sessions, id)
		}
	}
	if len(s.sessions) == 0 {
		s.summaries.clear()
	}
}

func (s *Server) loggedIn(r *http.Request) bool {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return false
	}
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	for id, expires := range s.sessions { // one or a few: compare each in constant time
		if subtle.ConstantTimeCompare([]byte(c.Value), []byte(id)) != 1 {
			continue
		}
		if !s.now().Before(expires) {
			delete(s.sessions, id) // its summaries went with the expiry timer (sweepSessions)
			return false
		}
		return true
	}
	return false
}

// page serves the app, with the CSRF token in a meta tag.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	if !s.loggedIn(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("Not signed in: open the link `healthd portal` printed when it started.\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.index.Execute(w, map[string]string{"CSRF": s.csrf}); err != nil {
		s.opts.Logger.Error("render", "err", err)
	}
}

// authed requires the session cookie.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.loggedIn(r) {
			writeError(w, http.StatusUnauthorized, "not_signed_in", "Not signed in: open the link `healthd portal` printed when it started.")
			return
		}
		h(w, r)
	}
}

// mutating requires the session cookie, a same-origin request and the CSRF
// header, and runs one state change at a time.
func (s *Server) mutating(h http.HandlerFunc) http.HandlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request) {
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
			writeError(w, http.StatusForbidden, "cross_origin", "Cross-site requests are refused.")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(o) {
			writeError(w, http.StatusForbidden, "cross_origin", "Cross-site requests are refused.")
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-CSRF-Token")), []byte(s.csrf)) != 1 {
			writeError(w, http.StatusForbidden, "csrf", "The page is out of date: reload it and try again.")
			return
		}
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
		h(w, r)
	})
}

func (s *Server) originAllowed(origin string) bool {
	host, ok := strings.CutPrefix(origin, "http://")
	if !ok {
		host, ok = strings.CutPrefix(origin, "https://")
	}
	return ok && s.hostAllowed(host)
}

// LoopbackHosts returns the Host values a portal listening on addr answers
// to: the address itself and, for a loopback address, localhost.
func LoopbackHosts(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{addr}
	}
	hosts := []string{addr}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() || host == "localhost" {
		hosts = append(hosts, net.JoinHostPort("localhost", port), net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port))
	}
	return hosts
}
