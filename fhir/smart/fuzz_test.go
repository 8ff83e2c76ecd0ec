package smart

import (
	"strings"
	"testing"
)

// FuzzAuthority: the SMART backend-services token endpoint and the bearer
// check, the FHIR server's front door. Any grant type, assertion type,
// assertion (a JWT: header, claims, signature), scope, purpose and
// Authorization header: never a panic; a token only for the assertion this
// client signed (once: its jti is then spent), and a bearer token accepted
// only if the authority issued it.
func FuzzAuthority(f *testing.F) {
	a, ehr, _, now := fixture(f)
	genuine := ehr.assertion(f, claimsFor("ehr", *now, "jti-1"))
	f.Add("client_credentials", AssertionType, genuine, "system/Observation.rs", "TREAT", "Bearer x")
	f.Add("client_credentials", AssertionType, genuine[:len(genuine)-3]+"AAA", "system/*.rs", "", "bearer ")
	f.Add("password", "", "a.b.c", "", "", "")
	issued := map[string]bool{}
	f.Fuzz(func(t *testing.T, grantType, assertionType, assertion, scope, purpose, authorization string) {
		tr, err := a.Token(grantType, assertionType, assertion, scope, purpose)
		if err == nil {
			if assertion != genuine {
				t.Fatalf("a token for an assertion the client did not sign: %q", assertion)
			}
			issued[tr.AccessToken] = true
		}
		if _, err := a.Check(authorization); err == nil {
			_, token, _ := strings.Cut(authorization, " ")
			if !issued[token] {
				t.Fatalf("accepted a bearer token the authority did not issue: %q", authorization)
			}
		}
	})
}
