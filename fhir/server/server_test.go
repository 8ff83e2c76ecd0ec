package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/healthd-chain/healthd/fhir/smart"
)

const (
	base  = "http://fhir.test"
	mrn   = "MRN-1"
	mrn2  = "MRN-2"
	addr1 = "health1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq1"
	addr2 = "health1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq2"
)

// harness is a server without a chain (no agent): every answer it gives is
// given before anything could reach the chain; a handler that tried would
// panic, which ServeHTTP turns into a 500 that the tests would see.
type harness struct {
	t   testing.TB
	srv *Server
	key *ecdsa.PrivateKey
}

func newHarness(t testing.TB, scopes ...string) *harness {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	if len(scopes) == 0 {
		scopes = []string{"system/*.cruds"}
	}
	cfg := smart.Config{Clients: []smart.Client{{
		ID: "ehr", JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k", Algorithm: "ES384"}}},
		Scopes: scopes, Purposes: []string{"TREAT", "ETREAT"},
	}}}
	p, err := OpenPatients(filepath.Join(t.TempDir(), "patients.json"))
	require.NoError(t, err)
	require.NoError(t, p.Set(mrn, addr1))
	require.NoError(t, p.Set(mrn2, addr2))
	srv, err := New(nil, Options{BaseURL: base, Clients: cfg, Patients: p, MaxBundleEntries: 5, MaxBody: 1 << 16})
	require.NoError(t, err)
	return &harness{t: t, srv: srv, key: k}
}

// token gets an access token through the token endpoint.
func (h *harness) token(scope, purpose string) string {
	h.t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: h.key, KeyID: "k"}}, nil)
	require.NoError(h.t, err)
	now := time.Now()
	assertion, err := jwt.Signed(sig).Claims(jwt.Claims{
		Issuer: "ehr", Subject: "ehr", Audience: jwt.Audience{base + "/token"}, ID: fmt.Sprint(now.UnixNano()),
		Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)),
	}).Serialize()
	require.NoError(h.t, err)
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_assertion_type": {smart.AssertionType},
		"client_assertion": {assertion}, "scope": {scope}, "purpose_of_use": {purpose},
	}
	req := httptest.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.srv.ServeHTTP(w, req)
	require.Equal(h.t, http.StatusOK, w.Code, w.Body.String())
	var tr smart.TokenResponse
	require.NoError(h.t, json.Unmarshal(w.Body.Bytes(), &tr))
	return tr.AccessToken
}

// do runs a request and returns the status and the decoded body.
func (h *harness) do(method, path, token, body string, header ...string) (int, map[string]any, http.Header) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.srv.ServeHTTP(w, req)
	var out map[string]any
	if w.Body.Len() > 0 {
		require.NoError(h.t, json.Unmarshal(w.Body.Bytes(), &out), w.Body.String())
	}
	return w.Code, out, w.Header()
}

// outcome checks an OperationOutcome with status and issue code.
func (h *harness) outcome(status int, code string, got int, body map[string]any) map[string]any {
	h.t.Helper()
	require.Equal(h.t, status, got, body)
	require.Equal(h.t, "OperationOutcome", body["resourceType"], body)
	iss := body["issue"].([]any)[0].(map[string]any)
	require.Equal(h.t, code, iss["code"], body)
	return iss
}

const obs = `{"resourceType":"Observation","status":"final","code":{"text":"HbA1c"},"subject":{"reference":"Patient/MRN-1"}}`

func TestMetadataAndDiscovery(t *testing.T) {
	h := newHarness(t)
	st, cs, hdr := h.do("GET", "/metadata", "", "")
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "CapabilityStatement", cs["resourceType"])
	require.Equal(t, "4.0.1", cs["fhirVersion"])
	require.Equal(t, ContentType, hdr.Get("Content-Type"))
	require.Equal(t, "no-store", hdr.Get("Cache-Control"))
	st, cfg, _ := h.do("GET", "/.well-known/smart-configuration", "", "")
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, base+"/token", cfg["token_endpoint"])
	// JSON only
	st, body, _ := h.do("GET", "/metadata?_format=xml", "", "")
	h.outcome(http.StatusUnsupportedMediaType, "not-supported", st, body)
	st, body, _ = h.do("GET", "/metadata", "", "", "Accept", "application/fhir+xml")
	h.outcome(http.StatusNotAcceptable, "not-supported", st, body)
	st, _, _ = h.do("GET", "/metadata?_format=json", "", "")
	require.Equal(t, http.StatusOK, st)
}

func TestAuthenticationBeforeAnything(t *testing.T) {
	h := newHarness(t)
	for _, tok := range []string{"", "not-a-token"} {
		st, body, hdr := h.do("GET", "/Observation?patient=MRN-1", tok, "")
		h.outcome(http.StatusUnauthorized, "login", st, body)
		require.Contains(t, hdr.Get("WWW-Authenticate"), "Bearer")
	}
	// a token from the token endpoint, for a purpose the client may claim
	require.NotEmpty(t, h.token("system/*.rs", "ETREAT"))
}

// Every interaction outside the token's scopes is refused with 403 before
// anything reaches the chain (the harness has none).
func TestScopesRefuseBeforeTheChain(t *testing.T) {
	h := newHarness(t)
	condOnly := h.token("system/Condition.cruds", "TREAT")
	readOnly := h.token("system/*.rs", "TREAT")
	createOnly := h.token("system/*.c", "TREAT")
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + obs + `,"request":{"method":"POST","url":"Observation"}}]}`
	cases := []struct{ name, method, path, token, body string }{
		{"read another type", "GET", "/Observation/5", condOnly, ""},
		{"vread another type", "GET", "/Observation/5/_history/1", condOnly, ""},
		{"search another type", "GET", "/Observation?patient=MRN-1", condOnly, ""},
		{"create with read scopes", "POST", "/Observation", readOnly, obs},
		{"update with create scopes", "PUT", "/Observation/5", createOnly, obs},
		{"search with create scopes", "GET", "/Observation?patient=MRN-1", createOnly, ""},
		{"$everything without Patient.r", "GET", "/Patient/MRN-1/$everything", condOnly, ""},
		{"Consent without its scope", "GET", "/Consent?patient=MRN-1", condOnly, ""},
		{"AuditEvent without its scope", "GET", "/AuditEvent?patient=MRN-1", createOnly, ""},
		{"Provenance without its scope", "GET", "/Provenance?target=Observation/5", condOnly, ""},
		{"a transaction with read scopes", "POST", "/", readOnly, bundle},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body, _ := h.do(c.method, c.path, c.token, c.body)
			h.outcome(http.StatusForbidden, "forbidden", st, body)
		})
	}
}

// Bad input is refused, each with its OperationOutcome, before anything is
// encrypted, uploaded or committed.
func TestBadInputRefused(t *testing.T) {
	h := newHarness(t)
	tok := h.token("system/*.cruds", "TREAT")
	entry := func(res, method, url string) string {
		return `{"resource":` + res + `,"request":{"method":"` + method + `","url":"` + url + `"}}`
	}
	tx := func(typ string, entries ...string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
	}
	other := strings.ReplaceAll(obs, "MRN-1", "MRN-9")
	two := `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/MRN-1"},"performer":[{"reference":"Patient/MRN-2"}]}`
	none := `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`
	cases := []struct {
		name, method, path, body string
		status                   int
		code, expr               string
	}{
		{"bad JSON", "POST", "/Observation", `{"resourceType":`, 400, "structure", ""},
		{"missing required element", "POST", "/Observation", `{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/MRN-1"}}`, 400, "required", "Observation.code"},
		{"bad code", "POST", "/Observation", strings.Replace(obs, "final", "done", 1), 400, "code-invalid", "Observation.status"},
		{"body type differs from URL", "POST", "/Condition", obs, 400, "invalid", ""},
		{"unknown resource type", "POST", "/Observaton", obs, 404, "not-supported", ""},
		{"server-made type", "POST", "/AuditEvent", `{"resourceType":"AuditEvent"}`, 405, "not-supported", ""},
		{"unknown patient", "POST", "/Observation", other, 422, "processing", ""},
		{"two patients", "POST", "/Observation", two, 422, "processing", ""},
		{"no patient", "POST", "/Observation", none, 422, "processing", ""},
		{"a Patient naming two patients", "POST", "/Patient", `{"resourceType":"Patient","id":"MRN-1","identifier":[{"system":"` + MRNSystem + `","value":"MRN-2"}]}`, 422, "processing", ""},
		{"a Patient no one knows", "POST", "/Patient", `{"resourceType":"Patient","identifier":[{"value":"MRN-9"}]}`, 422, "processing", ""},
		{"delete", "DELETE", "/Observation/5", "", 405, "not-supported", ""},
		{"update without id in body", "PUT", "/Observation/5", obs, 400, "invalid", ""},
		{"update with another id", "PUT", "/Observation/5", strings.Replace(obs, `"status"`, `"id":"6","status"`, 1), 400, "invalid", ""},
		{"update of a non-id", "PUT", "/Observation/abc", strings.Replace(obs, `"status"`, `"id":"abc","status"`, 1), 404, "not-found", ""},
		{"read of a non-id", "GET", "/Observation/abc", "", 404, "not-found", ""},
		{"vread of a non-version", "GET", "/Observation/5/_history/x", "", 404, "not-found", ""},
		{"bundle of another type", "POST", "/", tx("collection", entry(obs, "POST", "Observation")), 400, "invalid", ""},
		{"bundle too big", "POST", "/", tx("batch", entry(obs, "POST", "Observation"), entry(obs, "POST", "Observation"),
			entry(obs, "POST", "Observation"), entry(obs, "POST", "Observation"), entry(obs, "POST", "Observation"),
			entry(obs, "POST", "Observation")), 413, "too-costly", ""},
		{"body too big", "POST", "/Observation", strings.Replace(obs, "HbA1c", strings.Repeat("x", 1<<16), 1), 413, "too-costly", ""},
		{"transaction entry invalid", "POST", "/", tx("transaction", entry(obs, "POST", "Observation"), entry(none[:len(none)-1]+`,"valueQuantity":{"value":"7"}}`, "POST", "Observation")), 400, "structure", "Bundle.entry[1].resource.valueQuantity.value"},
		{"transaction entry of an unknown patient", "POST", "/", tx("transaction", entry(obs, "POST", "Observation"), entry(other, "POST", "Observation")), 422, "processing", ""},
		{"transaction with an update", "POST", "/", tx("transaction", entry(strings.Replace(obs, `"status"`, `"id":"5","status"`, 1), "PUT", "Observation/5")), 400, "not-supported", ""},
		{"transaction entry url of another type", "POST", "/", tx("transaction", entry(obs, "POST", "Condition")), 400, "invalid", ""},
		{"transaction entry GET", "POST", "/", tx("transaction", entry(obs, "GET", "Observation")), 400, "not-supported", ""},
		{"transaction entry without request", "POST", "/", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":` + obs + `}]}`, 400, "required", ""},
		{"search on content", "GET", "/Observation?patient=MRN-1&code=4548-4", "", 400, "not-supported", "code"},
		{"search without patient", "GET", "/Observation?category=vital-signs", "", 400, "required", "patient"},
		{"search of an unknown patient", "GET", "/Observation?patient=MRN-9", "", 422, "not-found", ""},
		{"search with a bad _count", "GET", "/Observation?patient=MRN-1&_count=-1", "", 400, "value", "_count"},
		{"search with a bad date", "GET", "/Observation?patient=MRN-1&_lastUpdated=yesterday", "", 400, "value", "_lastUpdated"},
		{"search with a bad _summary", "GET", "/Observation?patient=MRN-1&_summary=true", "", 400, "not-supported", "_summary"},
		{"Consent search on another parameter", "GET", "/Consent?patient=MRN-1&status=active", "", 400, "not-supported", "status"},
		{"Provenance without target", "GET", "/Provenance", "", 400, "required", "target"},
		{"$everything of an unknown patient", "GET", "/Patient/MRN-9/$everything", "", 422, "not-found", ""},
		{"XML body", "POST", "/Observation", obs, 415, "not-supported", ""},
		{"a reference to another server's Patient", "POST", "/Observation", strings.Replace(obs, `"Patient/MRN-1"`, `"https://other.example/fhir/Patient/MRN-1"`, 1), 422, "processing", ""},
		{"a Patient known only by another system's identifier", "POST", "/Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:insurer","value":"MRN-1"}]}`, 422, "processing", ""},
		{"a Patient update", "PUT", "/Patient/MRN-1", `{"resourceType":"Patient","id":"MRN-1"}`, 405, "not-supported", ""},
		{"a Patient by a record id", "GET", "/Patient/57", "", 404, "not-found", ""},
		{"a Patient search", "GET", "/Patient?patient=MRN-1", "", 400, "not-supported", ""},
		{"HEAD of a resource", "HEAD", "/Observation/5", "", 405, "", ""},
		{"a fullUrl used twice", "POST", "/", `{"resourceType":"Bundle","type":"transaction","entry":[` +
			`{"fullUrl":"urn:uuid:1","resource":` + obs + `,"request":{"method":"POST","url":"Observation"}},` +
			`{"fullUrl":"urn:uuid:1","resource":` + obs + `,"request":{"method":"POST","url":"Observation"}}]}`, 400, "invalid", "Bundle.entry[1].fullUrl"},
		{"deeply nested extensions", "POST", "/Observation", strings.Replace(obs, `"status"`, deepExtension(80)+`,"status"`, 1), 400, "too-costly", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := []string{"Content-Type", "application/fhir+json"}
			if c.name == "XML body" {
				hdr = []string{"Content-Type", "application/fhir+xml"}
			}
			st, body, _ := h.do(c.method, c.path, tok, c.body, hdr...)
			if c.method == "HEAD" { // no body
				require.Equal(t, c.status, st)
				return
			}
			iss := h.outcome(c.status, c.code, st, body)
			if c.expr != "" {
				require.Contains(t, iss["expression"], c.expr, body)
			}
		})
	}
}

// GET /Patient/{MRN} answers from the local table alone.
func TestPatientFromTheTable(t *testing.T) {
	h := newHarness(t)
	tok := h.token("system/Patient.r", "TREAT")
	st, p, _ := h.do("GET", "/Patient/"+mrn, tok, "")
	require.Equal(t, http.StatusOK, st, p)
	require.Equal(t, mrn, p["id"])
	require.NotContains(t, fmt.Sprint(p), addr1, "the chain address is not the EHR's business")
}

// deepExtension is an extension element nested n levels deep.
func deepExtension(n int) string {
	v := `{"url":"http://x","valueString":"y"}`
	for range n {
		v = `{"url":"http://x","extension":[` + v + `]}`
	}
	return `"extension":[` + v + `]`
}

// A Patient resource names a known patient by its id or by an identifier of
// an MRN system; nothing is stored, so no chain is needed to answer.
func TestPatientResourcesNameThePatient(t *testing.T) {
	h := newHarness(t)
	tok := h.token("system/*.cruds", "TREAT")
	for _, body := range []string{
		`{"resourceType":"Patient","id":"MRN-1"}`,
		`{"resourceType":"Patient","identifier":[{"system":"` + MRNSystem + `","value":"MRN-1"},{"system":"urn:insurer","value":"MRN-2"}]}`,
	} {
		st, p, hdr := h.do("POST", "/Patient", tok, body)
		require.Equal(t, http.StatusOK, st, p)
		require.Equal(t, mrn, p["id"])
		require.Equal(t, base+"/Patient/"+mrn, hdr.Get("Location"))
	}
	// in a batch, with a failing update beside it: a response per entry
	batch := `{"resourceType":"Bundle","type":"batch","entry":[` +
		`{"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"MRN-1"},"request":{"method":"POST","url":"Patient"}},` +
		`{"resource":` + strings.Replace(obs, `"status"`, `"id":"6","status"`, 1) + `,"request":{"method":"PUT","url":"Observation/5"}}]}`
	st, b, _ := h.do("POST", "/", tok, batch)
	require.Equal(t, http.StatusOK, st, b)
	entries := b["entry"].([]any)
	require.Equal(t, "200 OK", entries[0].(map[string]any)["response"].(map[string]any)["status"])
	require.Equal(t, "Patient/MRN-1", entries[0].(map[string]any)["response"].(map[string]any)["location"])
	require.Equal(t, "400 Bad Request", entries[1].(map[string]any)["response"].(map[string]any)["status"])
}

func TestBearerSchemeAnyCase(t *testing.T) {
	h := newHarness(t)
	tok := h.token("system/Patient.r", "TREAT")
	req := httptest.NewRequest("GET", base+"/Patient/"+mrn, nil)
	req.Header.Set("Authorization", "bearer "+tok)
	w := httptest.NewRecorder()
	h.srv.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

func TestEtagMatches(t *testing.T) {
	require.True(t, etagMatches(`W/"3"`, 3))
	require.True(t, etagMatches(`"3"`, 3))
	require.True(t, etagMatches(`*`, 3))
	require.False(t, etagMatches(`W/"2"`, 3))
}

// Errors never carry a chain address: the EHR knows patients by MRN.
func TestOutcomesCarryNoAddress(t *testing.T) {
	o := outcome(issue("forbidden", "hospital may not read lab-result of health1qyfkm2a6vn8hu3sx2hy6n0xq0yzcxqm9e7jh4r for TREAT"))
	require.NotContains(t, o.Issue[0].Diagnostics, "health1q")
	require.Contains(t, o.Issue[0].Diagnostics, "(an account)")
}
