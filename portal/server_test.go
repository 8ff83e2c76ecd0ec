package portal

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/tx"
	"github.com/cosmos/cosmos-sdk/codec"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	cryptocodec "github.com/cosmos/cosmos-sdk/crypto/codec"
	"github.com/cosmos/cosmos-sdk/crypto/hd"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"

	"github.com/healthd-chain/healthd/client/agent"
	"github.com/healthd-chain/healthd/vault"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// alice's public test mnemonic from config.yml.
const aliceMnemonic = "picnic slam curve decline use print secret feel impose gentle sleep either outer boat clown tape horn despair unit dwarf primary weapon goat luxury"

// testPortal is a portal for alice with no chain behind it: enough for every
// check that happens before the chain is asked.
func testPortal(t testing.TB) (*Server, *httptest.Server) {
	t.Helper()
	reg := codectypes.NewInterfaceRegistry()
	cryptocodec.RegisterInterfaces(reg)
	kr := keyring.NewInMemory(codec.NewProtoCodec(reg))
	rec, err := kr.NewAccount("alice", aliceMnemonic, "", hd.CreateHDPath(118, 0, 0).String(), hd.Secp256k1)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := rec.GetAddress()
	if err != nil {
		t.Fatal(err)
	}
	clientCtx := client.Context{}.WithKeyring(kr).WithFromName("alice").WithFromAddress(addr)
	a, err := agent.New(clientCtx, tx.Factory{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String()
	p, err := New(a, Options{VaultURL: "http://127.0.0.1:1", Hosts: LoopbackHosts(host), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	return p, srv
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login returns the session cookie.
func login(t *testing.T, p *Server, srv *httptest.Server) *http.Cookie {
	t.Helper()
	resp, err := noRedirect().Get(srv.URL + p.LoginPath())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d with %d cookies", resp.StatusCode, len(resp.Cookies()))
	}
	return resp.Cookies()[0]
}

func do(t *testing.T, req *http.Request) (int, apiError, http.Header) {
	t.Helper()
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var e apiError
	_ = json.Unmarshal(body, &e)
	return resp.StatusCode, e, resp.Header
}

func TestLoginAndSessionCookie(t *testing.T) {
	p, srv := testPortal(t)
	// no session: the page and the API refuse
	for _, path := range []string{"/", "/api/session", "/api/timeline"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if code, _, _ := do(t, req); code != http.StatusUnauthorized {
			t.Errorf("GET %s without a session: %d, want 401", path, code)
		}
	}
	// a wrong token opens nothing
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/login?token=00", nil)
	if code, e, h := do(t, req); code != http.StatusUnauthorized || e.Code != "bad_token" || h.Get("Set-Cookie") != "" {
		t.Fatalf("wrong token: %d %+v cookie %q", code, e, h.Get("Set-Cookie"))
	}
	c := login(t, p, srv)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || !strings.HasPrefix(c.Name, "healthd_portal_") {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/", c)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.AddCookie(c)
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `<meta name="csrf-token" content="`+p.csrf+`">`) {
		t.Fatalf("page: %d, csrf meta present %v", resp.StatusCode, strings.Contains(string(page), p.csrf))
	}
	cspGot := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(cspGot, want) {
			t.Errorf("CSP %q lacks %q", cspGot, want)
		}
	}
	if strings.Contains(cspGot, "unsafe") {
		t.Errorf("CSP %q allows unsafe sources", cspGot)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", resp.Header)
	}
}

func TestTwoPortalsUseDifferentCookies(t *testing.T) {
	p1, _ := testPortal(t)
	p2, _ := testPortal(t)
	if p1.cookie == p2.cookie {
		t.Fatalf("two portals share the cookie name %q: on one host, one would sign the other out", p1.cookie)
	}
}

func TestStateChangesNeedCSRFAndSameOrigin(t *testing.T) {
	p, srv := testPortal(t)
	c := login(t, p, srv)
	post := func(mod func(*http.Request)) (int, apiError) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/consents", strings.NewReader(`{"grantee":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(c)
		mod(req)
		code, e, _ := do(t, req)
		return code, e
	}
	if code, e := post(func(*http.Request) {}); code != http.StatusForbidden || e.Code != "csrf" {
		t.Errorf("no CSRF token: %d %+v", code, e)
	}
	wrong := "0" + p.csrf[1:]
	if p.csrf[0] == '0' {
		wrong = "1" + p.csrf[1:]
	}
	if code, e := post(func(r *http.Request) { r.Header.Set("X-CSRF-Token", wrong) }); code != http.StatusForbidden || e.Code != "csrf" {
		t.Errorf("wrong CSRF token: %d %+v", code, e)
	}
	if code, e := post(func(r *http.Request) {
		r.Header.Set("X-CSRF-Token", p.csrf)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
	}); code != http.StatusForbidden || e.Code != "cross_origin" {
		t.Errorf("cross-site fetch: %d %+v", code, e)
	}
	if code, e := post(func(r *http.Request) {
		r.Header.Set("X-CSRF-Token", p.csrf)
		r.Header.Set("Origin", "http://evil.example")
	}); code != http.StatusForbidden || e.Code != "cross_origin" {
		t.Errorf("foreign Origin: %d %+v", code, e)
	}
	// with everything right, the request reaches the handler, which checks the input
	if code, e := post(func(r *http.Request) { r.Header.Set("X-CSRF-Token", p.csrf) }); code != http.StatusBadRequest ||
		!strings.Contains(e.Message, "not a healthd address") {
		t.Errorf("valid request with a bad grantee: %d %+v", code, e)
	}
}

func TestOnlyItsOwnHostNames(t *testing.T) {
	p, srv := testPortal(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+p.LoginPath(), nil)
	req.Host = "evil.example"
	if code, e, h := do(t, req); code != http.StatusMisdirectedRequest || e.Code != "bad_host" || h.Get("Set-Cookie") != "" {
		t.Fatalf("foreign Host (DNS rebinding): %d %+v", code, e)
	}
	port := srv.Listener.Addr().String()[strings.LastIndex(srv.Listener.Addr().String(), ":"):]
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/healthz", nil)
	req.Host = "localhost" + port
	if code, _, _ := do(t, req); code != http.StatusOK {
		t.Fatalf("localhost%s: %d", port, code)
	}
}

func TestInputIsCheckedBeforeTheChainIsAsked(t *testing.T) {
	p, srv := testPortal(t)
	c := login(t, p, srv)
	bob, err := addresses.BytesToString(make([]byte, 20))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, body, want string
	}{
		{"POST", "/api/consents", fmt.Sprintf(`{"grantee":%q,"data_classes":["lab-result"],"purposes":["TREAT"],"permissions":["read"],"days":0}`, bob), "between 1 day"},
		{"POST", "/api/consents", fmt.Sprintf(`{"grantee":%q,"data_classes":[],"purposes":["TREAT"],"permissions":["read"],"days":3}`, bob), "at least one"},
		{"POST", "/api/consents", fmt.Sprintf(`{"grantee":%q,"data_classes":["x-ray"],"purposes":["TREAT"],"permissions":["read"],"days":3}`, bob), "Choose"},
		{"POST", "/api/consents", `{"grantee":"health1yuw2jxyv3zdrpscxfrkctm2zfttvwuas42w95x","data_classes":["lab-result"],"purposes":["TREAT"],"permissions":["read"],"days":3}`, "your own records"},
		{"POST", "/api/consents", `{"nonsense":1}`, "not valid"},
		{"POST", "/api/records/abc/read", `{"purpose":"TREAT"}`, "Not a record number"},
		{"POST", "/api/records/1/read", `{"purpose":"SPYING"}`, "Unknown purpose"},
		{"POST", "/api/break-glass", fmt.Sprintf(`{"patient":%q,"reason":"boredom","minutes":5}`, bob), "reason of the emergency"},
		{"POST", "/api/break-glass", fmt.Sprintf(`{"patient":%q,"reason":"life-threatening","minutes":0}`, bob), "minutes"},
		{"POST", "/api/delegates", `{"delegate":"bob","days":3}`, "not a healthd address"},
		{"GET", "/api/timeline?patient=nobody", "", "not a healthd address"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", p.csrf)
		req.AddCookie(c)
		code, e, _ := do(t, req)
		if code != http.StatusBadRequest || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s %s %s: %d %+v, want 400 saying %q", tc.method, tc.path, tc.body, code, e, tc.want)
		}
	}
}

// The page must work under the CSP: no inline script or style, and nothing
// fetched from another origin.
func TestStaticAssetsAreSelfContained(t *testing.T) {
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	foreign := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`)
	err := fs.WalkDir(staticFiles, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(path)
		if err != nil {
			return err
		}
		s := string(b)
		if inlineScript.MatchString(s) || strings.Contains(s, " style=") || strings.Contains(s, "javascript:") {
			t.Errorf("%s has inline script or style", path)
		}
		if foreign.MatchString(s) || strings.Contains(s, "@import") || strings.Contains(s, "url(http") {
			t.Errorf("%s loads something from another origin", path)
		}
		if strings.Contains(s, "innerHTML") || strings.Contains(s, "eval(") {
			t.Errorf("%s parses strings as HTML or code", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestFailuresInPlainWords(t *testing.T) {
	cases := []struct {
		err  error
		code string
		want string
	}{
		{&agent.AccessDenied{Reason: consenttypes.ACCESS_REASON_NO_CONSENT}, "no_consent", "no consent"},
		{&agent.AccessDenied{Reason: consenttypes.ACCESS_REASON_EXPIRED}, "expired", "expired"},
		{&agent.AccessDenied{Reason: consenttypes.ACCESS_REASON_REVOKED}, "revoked", "revoked your access"},
		{&agent.AccessDenied{Reason: consenttypes.ACCESS_REASON_PROVIDER_INACTIVE}, "provider_inactive", "not active"},
		{fmt.Errorf("record 3: %w", &agent.AccessDenied{Reason: consenttypes.ACCESS_REASON_NOT_COVERED}), "not_covered", "does not cover"},
		{fmt.Errorf("%w at http://127.0.0.1:1: dial tcp: connection refused", vault.ErrUnreachable), "vault_unreachable", "vault cannot be reached"},
		{fmt.Errorf("x: %w", agent.ErrErased), "erased", "erased"},
		{status.Error(codes.Unavailable, "connection error"), "chain_unreachable", "node cannot be reached"},
		// what CometBFT's RPC client returns for a node that is down: the
		// transport error wrapped (rpc/jsonrpc/client: "post failed: %w")
		{fmt.Errorf("post failed: %w", refusedPost(t)), "chain_unreachable", "node cannot be reached"},
		{&agent.TxError{Code: 5, Codespace: "sdk", Log: "insufficient funds", Height: 9}, "rejected", "insufficient funds"},
		{fmt.Errorf("%w: rpc error", agent.ErrSimulationRefused), "rejected", "refused the transaction"},
		{fmt.Errorf("record 9: %w", status.Error(codes.NotFound, "record 9")), "not_found", "Not found"},
	}
	for _, tc := range cases {
		got := classify(tc.err)
		if got.Code != tc.code || !strings.Contains(got.Message, tc.want) {
			t.Errorf("classify(%v) = %+v, want %s saying %q", tc.err, got, tc.code, tc.want)
		}
	}
}

// TestLoginLinkOpensOneExpiringSession: the login link works once; the cookie
// holds a random session id, never the token; the session ends after its TTL.
func TestLoginLinkOpensOneExpiringSession(t *testing.T) {
	p, srv := testPortal(t)
	c := login(t, p, srv)
	if c.Value == p.token || strings.Contains(c.Value, p.token) {
		t.Fatal("the session cookie carries the login token")
	}
	// the link again: refused, and no new cookie
	req, _ := http.NewRequest(http.MethodGet, srv.URL+p.LoginPath(), nil)
	if code, e, h := do(t, req); code != http.StatusUnauthorized || e.Code != "link_used" || h.Get("Set-Cookie") != "" {
		t.Fatalf("second use of the link: %d %+v cookie %q", code, e, h.Get("Set-Cookie"))
	}
	session := func() int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/session", nil)
		req.AddCookie(c)
		code, _, _ := do(t, req)
		return code
	}
	// a cookie with the token itself opens nothing
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/api/session", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: p.token})
	if code, _, _ := do(t, req); code != http.StatusUnauthorized {
		t.Fatalf("the token as a cookie: %d, want 401", code)
	}
	if code := session(); code == http.StatusUnauthorized {
		t.Fatalf("the session right after login: %d", code)
	}
	// and after the TTL the session is over
	p.sessMu.Lock()
	p.now = func() time.Time { return time.Now().Add(p.opts.SessionTTL + time.Second) }
	p.sessMu.Unlock()
	if code := session(); code != http.StatusUnauthorized {
		t.Fatalf("the session after its TTL: %d, want 401", code)
	}
}

// refusedPost is the error of an HTTP POST to a port nobody listens on.
func refusedPost(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	resp, err := http.Post("http://"+addr, "application/json", strings.NewReader("{}"))
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("a POST to a closed port succeeded")
	}
	return err
}
