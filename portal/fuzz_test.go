package portal

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzFrontDoor: every request reaches the portal through its host check,
// session cookie and CSRF check. With any method, path, host, cookie, CSRF
// header, content type and body — but without the session that only the
// one-time login link opens — no /api route may answer 2xx, no login may
// succeed, and nothing may panic.
func FuzzFrontDoor(f *testing.F) {
	p, srv := testPortal(f)
	host := strings.TrimPrefix(srv.URL, "http://")
	f.Add("GET", "/api/timeline", host, "", "", "", "")
	f.Add("POST", "/api/consents", host, "x", p.csrf, "application/json", `{"grantee":"health1x"}`)
	f.Add("GET", "/login?token=00", host, "", "", "", "")
	f.Add("POST", "/api/records/1/read", "LOCALHOST:1", "", "", "multipart/form-data; boundary=x", "--x--")
	f.Add("GET", "/", host, "", "", "", "")
	f.Fuzz(func(t *testing.T, method, path, reqHost, cookie, csrf, contentType, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t") || strings.ContainsAny(method, " \r\n\t") {
			return // not a request line an HTTP server would parse
		}
		req, err := http.NewRequest(method, "http://"+host+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Host = reqHost
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: p.cookie, Value: cookie})
		}
		req.Header.Set("X-CSRF-Token", csrf)
		req.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if strings.HasPrefix(req.URL.Path, "/api/") && w.Code >= 200 && w.Code < 300 {
			t.Fatalf("%s %s answered %d without a session: %.200s", method, path, w.Code, w.Body.String())
		}
		if w.Result().Cookies() != nil && len(w.Result().Cookies()) > 0 {
			t.Fatalf("%s %s set a cookie without the login token", method, path)
		}
	})
}
