package smart

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const tokenURL = "https://fhir.hospital.example/token"

type signer struct {
	key any
	alg jose.SignatureAlgorithm
	kid string
}

func (s signer) assertion(t testing.TB, claims jwt.Claims) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: jose.JSONWebKey{Key: s.key, KeyID: s.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newEC(t testing.TB, kid string) (signer, jose.JSONWebKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signer{key: k, alg: jose.ES384, kid: kid}, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "ES384", Use: "sig"}
}

// fixture: the EHR client "ehr" (ES384) may ask system/*.rs and
// system/Observation.cruds, for TREAT or HOPERAT; "lab" (RS384) only
// system/Observation.rs.
func fixture(t testing.TB) (*Authority, signer, signer, *time.Time) {
	t.Helper()
	ehr, ehrPub := newEC(t, "ehr-1")
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	lab := signer{key: rk, alg: jose.RS384, kid: "lab-1"}
	cfg := Config{Clients: []Client{
		{
			ID: "ehr", Name: "Hospital EHR", JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ehrPub}},
			Scopes: []string{"system/*.rs", "system/Observation.cruds"}, Purposes: []string{"TREAT", "HOPERAT"},
		},
		{
			ID: "lab", JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &rk.PublicKey, KeyID: "lab-1", Algorithm: "RS384"}}},
			Scopes: []string{"system/Observation.rs"},
		},
	}}
	// through the file format, as the server reads it
	raw, _ := json.Marshal(cfg)
	path := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuthority(loaded, tokenURL)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	return a, ehr, lab, &now
}

func claimsFor(client string, now time.Time, jti string) jwt.Claims {
	return jwt.Claims{
		Issuer: client, Subject: client, Audience: jwt.Audience{tokenURL}, ID: jti,
		Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
	}
}

func TestBackendServicesToken(t *testing.T) {
	a, ehr, lab, now := fixture(t)
	resp, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", *now, "j1")), "system/Patient.rs system/Observation.c", "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.TokenType != "bearer" || resp.ExpiresIn != 300 || resp.Purpose != "TREAT" || resp.Scope != "system/Patient.rs system/Observation.c" {
		t.Fatalf("token response %+v", resp)
	}
	g, err := a.Check("Bearer " + resp.AccessToken)
	if err != nil || g.ClientID != "ehr" || !g.Allows("Patient", 'r') || !g.Allows("Observation", 'c') || g.Allows("Observation", 'r') ||
		g.Allows("Condition", 's') || g.Allows("Patient", 'd') {
		t.Fatalf("grant %+v, %v", g, err)
	}
	// the RS384 client, and a purpose the client may claim
	if _, err := a.Token("client_credentials", AssertionType, lab.assertion(t, claimsFor("lab", *now, "j1")), "system/Observation.read", ""); err != nil {
		t.Fatalf("the lab's RS384 assertion: %v", err)
	}
	if r, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", *now, "j2")), "system/*.rs", "HOPERAT"); err != nil || r.Purpose != "HOPERAT" {
		t.Fatalf("HOPERAT: %+v %v", r, err)
	}
	// the token expires
	*now = now.Add(6 * time.Minute)
	if _, err := a.Check("Bearer " + resp.AccessToken); !errors.Is(err, ErrBadToken) {
		t.Fatalf("an expired token: %v", err)
	}
	if _, err := a.Check(""); !errors.Is(err, ErrNoToken) {
		t.Fatalf("no token: %v", err)
	}
	if _, err := a.Check("Bearer nope"); !errors.Is(err, ErrBadToken) {
		t.Fatalf("an unknown token: %v", err)
	}
}

func TestBackendServicesRefusals(t *testing.T) {
	other, _ := newEC(t, "ehr-1") // same kid, another key
	cases := []struct {
		name string
		do   func(a *Authority, ehr signer, now time.Time) error
		code string
	}{
		{"a reused jti", func(a *Authority, ehr signer, now time.Time) error {
			if _, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", now, "same")), "system/*.rs", ""); err != nil {
				return err
			}
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", now, "same")), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"another key", func(a *Authority, _ signer, now time.Time) error {
			_, err := a.Token("client_credentials", AssertionType, other.assertion(t, claimsFor("ehr", now, "k")), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"an unknown client", func(a *Authority, ehr signer, now time.Time) error {
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("mallory", now, "u")), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"another audience", func(a *Authority, ehr signer, now time.Time) error {
			c := claimsFor("ehr", now, "a")
			c.Audience = jwt.Audience{"https://elsewhere.example/token"}
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, c), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"sub is not the client", func(a *Authority, ehr signer, now time.Time) error {
			c := claimsFor("ehr", now, "s")
			c.Subject = "lab"
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, c), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"expired", func(a *Authority, ehr signer, now time.Time) error {
			c := claimsFor("ehr", now.Add(-10*time.Minute), "e")
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, c), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"exp an hour ahead", func(a *Authority, ehr signer, now time.Time) error {
			c := claimsFor("ehr", now, "h")
			c.Expiry = jwt.NewNumericDate(now.Add(time.Hour))
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, c), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"no jti", func(a *Authority, ehr signer, now time.Time) error {
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", now, "")), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"HS256, not RS384 or ES384", func(a *Authority, _ signer, now time.Time) error {
			hs := signer{key: []byte("0123456789abcdef0123456789abcdef"), alg: jose.HS256}
			_, err := a.Token("client_credentials", AssertionType, hs.assertion(t, claimsFor("ehr", now, "x")), "system/*.rs", "")
			return err
		}, "invalid_client"},
		{"a scope beyond the client's", func(a *Authority, ehr signer, now time.Time) error {
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", now, "w")), "system/Patient.c", "")
			return err
		}, "invalid_scope"},
		{"no scope", func(a *Authority, ehr signer, now time.Time) error {
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", now, "n")), "", "")
			return err
		}, "invalid_scope"},
		{"a patient/ scope", func(a *Authority, ehr signer, now time.Time) error {
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", now, "p")), "patient/*.rs", "")
			return err
		}, "invalid_scope"},
		{"a purpose the client may not claim", func(a *Authority, ehr signer, now time.Time) error {
			_, err := a.Token("client_credentials", AssertionType, ehr.assertion(t, claimsFor("ehr", now, "r")), "system/*.rs", "HRESCH")
			return err
		}, "invalid_scope"},
		{"another grant type", func(a *Authority, ehr signer, now time.Time) error {
			_, err := a.Token("authorization_code", AssertionType, ehr.assertion(t, claimsFor("ehr", now, "g")), "system/*.rs", "")
			return err
		}, "unsupported_grant_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, ehr, _, now := fixture(t)
			err := tc.do(a, ehr, *now)
			var oe *Error
			if !errors.As(err, &oe) || oe.Code != tc.code {
				t.Fatalf("error %v, want %s", err, tc.code)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	for in, want := range map[string]string{
		"system/Observation.rs": "system/Observation.rs", "system/*.cruds": "system/*.cruds",
		"system/Patient.read": "system/Patient.rs", "system/*.write": "system/*.cud", "system/Consent.*": "system/Consent.cruds",
	} {
		s, err := ParseScope(in)
		if err != nil || s.String() != want {
			t.Errorf("%s: %v %v, want %s", in, s, err, want)
		}
	}
	for _, bad := range []string{
		"system/Observation.sr", "system/Observation.rr", "system/Observation.x", "user/*.rs", "system/.rs",
		"system/observation.rs", "system/Observation", "system/*.",
	} {
		if _, err := ParseScope(bad); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

func TestLoadConfigRefusals(t *testing.T) {
	_, pub := newEC(t, "k")
	priv, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	write := func(cfg any) string {
		raw, _ := json.Marshal(cfg)
		p := filepath.Join(t.TempDir(), "clients.json")
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := Client{ID: "ehr", JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}, Scopes: []string{"system/*.rs"}}
	for name, cfg := range map[string]Config{
		"a repeated client_id": {Clients: []Client{good, good}},
		"no key":               {Clients: []Client{{ID: "ehr", Scopes: []string{"system/*.rs"}}}},
		"a private key": {Clients: []Client{{
			ID: "ehr", Scopes: []string{"system/*.rs"},
			JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv, KeyID: "p"}}},
		}}},
		"a bad scope": {Clients: []Client{{ID: "ehr", JWKS: good.JWKS, Scopes: []string{"user/*.rs"}}}},
		"no scopes":   {Clients: []Client{{ID: "ehr", JWKS: good.JWKS}}},
	} {
		if _, err := LoadConfig(write(cfg)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := LoadConfig(write(map[string]any{"clients": []any{}, "extra": 1})); err == nil {
		t.Error("an unknown field was accepted")
	}
}

// TestClientKeyPolicy: a clients file with a key the token endpoint should
// not trust stops LoadConfig, naming the client and the key's kid (the key
// sits second in the second client's jwks, after keys that are fine, so the
// error must point at it and not at its neighbours); the keys accepted
// verify an assertion end to end.
func TestClientKeyPolicy(t *testing.T) {
	// RSA generation is slow: one key of each size for every case
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	_, ehrPub := newEC(t, "ehr-1")
	fine := jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "lab-1", Algorithm: "RS384", Use: "sig"}
	load := func(t *testing.T, k jose.JSONWebKey) (Config, error) {
		t.Helper()
		raw, err := json.Marshal(Config{Clients: []Client{
			{ID: "ehr", JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ehrPub}}, Scopes: []string{"system/*.rs"}},
			{ID: "lab", JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{fine, k}}, Scopes: []string{"system/Observation.rs"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "clients.json")
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		return LoadConfig(p)
	}

	refused := []struct {
		name   string
		key    jose.JSONWebKey
		reason error
	}{
		{"RSA of 1024 bits with alg RS384", jose.JSONWebKey{Key: &rsa1024.PublicKey, KeyID: "rsa-1024", Algorithm: "RS384"}, ErrKeyTooSmall},
		{"RSA of 1024 bits with no alg", jose.JSONWebKey{Key: &rsa1024.PublicKey, KeyID: "rsa-1024-noalg"}, ErrKeyTooSmall},
		{"RSA with use enc", jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "rsa-enc", Algorithm: "RS384", Use: "enc"}, ErrKeyUse},
		{"EC P-384 with use enc", jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "ec-enc", Use: "enc"}, ErrKeyUse},
		{"a use that is not sig", jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "ec-wrap", Use: "wrap"}, ErrKeyUse},
		{"RSA with alg RS256", jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "rsa-rs256", Algorithm: "RS256"}, ErrKeyAlg},
		{"RSA with alg PS384", jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "rsa-ps384", Algorithm: "PS384"}, ErrKeyAlg},
		{"EC P-384 with alg ES256", jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "ec-es256", Algorithm: "ES256"}, ErrKeyAlg},
		{"RSA with alg ES384", jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "rsa-es384", Algorithm: "ES384"}, ErrKeyAlg},
		{"EC P-384 with alg RS384", jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "ec-rs384", Algorithm: "RS384"}, ErrKeyAlg},
		{"EC P-256 with alg ES384", jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "p256-es384", Algorithm: "ES384"}, ErrKeyAlg},
		{"Ed25519 with alg EdDSA", jose.JSONWebKey{Key: edPub, KeyID: "ed-eddsa", Algorithm: "EdDSA"}, ErrKeyAlg},
		{"EC P-256 with no alg", jose.JSONWebKey{Key: &p256.PublicKey, KeyID: "p256-noalg"}, ErrKeyType},
		{"Ed25519 with no alg", jose.JSONWebKey{Key: edPub, KeyID: "ed-noalg"}, ErrKeyType},
		{"a private EC key", jose.JSONWebKey{Key: p384, KeyID: "ec-private", Algorithm: "ES384"}, ErrKeyNotPublic},
		{"a private RSA key", jose.JSONWebKey{Key: rsa2048, KeyID: "rsa-private", Algorithm: "RS384"}, ErrKeyNotPublic},
		{"a private Ed25519 key", jose.JSONWebKey{Key: edPriv, KeyID: "ed-private"}, ErrKeyNotPublic},
		{"a symmetric key", jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"}, ErrKeyNotPublic},
	}
	for _, tc := range refused {
		t.Run("refused/"+tc.name, func(t *testing.T) {
			_, err := load(t, tc.key)
			var ke *KeyError
			if !errors.As(err, &ke) || ke.ClientID != "lab" || ke.KeyID != tc.key.KeyID || ke.Index != 1 {
				t.Fatalf("error %v (%#v), want a KeyError for client lab, key %s at jwks.keys[1]", err, ke, tc.key.KeyID)
			}
			if !errors.Is(err, tc.reason) {
				t.Errorf("error %v, want reason %v", err, tc.reason)
			}
			// the operator reads the message: it names the client and the kid
			if msg := err.Error(); !strings.Contains(msg, "client lab:") || !strings.Contains(msg, fmt.Sprintf("key %q", tc.key.KeyID)) {
				t.Errorf("message %q names neither client lab nor key %q", msg, tc.key.KeyID)
			}
		})
	}

	// a key without a kid is named by its position
	_, err = load(t, jose.JSONWebKey{Key: &rsa1024.PublicKey})
	if err == nil || !strings.Contains(err.Error(), "client lab: key jwks.keys[1] (no kid)") {
		t.Errorf("a refused key without kid: %v", err)
	}

	accepted := []struct {
		name string
		key  jose.JSONWebKey
		sig  signer
	}{
		{"RSA of 2048 bits with alg RS384 and use sig", jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "lab-5", Algorithm: "RS384", Use: "sig"}, signer{key: rsa2048, alg: jose.RS384, kid: "lab-5"}},
		{"RSA of 2048 bits with no alg or use", jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "lab-2"}, signer{key: rsa2048, alg: jose.RS384, kid: "lab-2"}},
		{"EC P-384 with alg ES384", jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "lab-3", Algorithm: "ES384", Use: "sig"}, signer{key: p384, alg: jose.ES384, kid: "lab-3"}},
		{"EC P-384 with no alg", jose.JSONWebKey{Key: &p384.PublicKey, KeyID: "lab-4"}, signer{key: p384, alg: jose.ES384, kid: "lab-4"}},
	}
	for _, tc := range accepted {
		t.Run("accepted/"+tc.name, func(t *testing.T) {
			cfg, err := load(t, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Clients[1].JWKS.Key(tc.key.KeyID); len(got) != 1 {
				t.Fatalf("lab's keys %v, want %s", cfg.Clients[1].JWKS.Keys, tc.key.KeyID)
			}
			// the key is usable: an assertion signed by its private half gets a token
			a := NewAuthority(cfg, tokenURL)
			now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
			a.now = func() time.Time { return now }
			resp, err := a.Token("client_credentials", AssertionType, tc.sig.assertion(t, claimsFor("lab", now, "j")), "system/Observation.rs", "")
			if err != nil || resp.AccessToken == "" {
				t.Fatalf("token with %s: %+v %v", tc.key.KeyID, resp, err)
			}
		})
	}
}

// Config.Validate is the same check for a configuration built in code.
func TestConfigValidate(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Clients: []Client{{
		ID: "lab", JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &small.PublicKey, KeyID: "old", Algorithm: "RS384"}}},
		Scopes: []string{"system/*.rs"},
	}}}
	var ke *KeyError
	if err := cfg.Validate(); !errors.As(err, &ke) || ke.ClientID != "lab" || ke.KeyID != "old" || !errors.Is(err, ErrKeyTooSmall) {
		t.Fatalf("Validate: %v, want a KeyError for lab's key old (too small)", err)
	}
}

// A scope asked may be covered by several registered scopes together, but not
// beyond their union.
func TestScopesCoveredTogether(t *testing.T) {
	held := []Scope{{"*", "rs"}, {"*", "cu"}, {"Observation", "d"}}
	for asked, want := range map[Scope]bool{
		{"Observation", "cru"}: true, {"*", "cruds"}: false, {"Observation", "cruds"}: true,
		{"Patient", "d"}: false, {"*", "rs"}: true, {"Condition", "cud"}: false,
	} {
		if got := asked.coveredBy(held); got != want {
			t.Errorf("%s covered by %v: %v, want %v", asked, held, got, want)
		}
	}
}
