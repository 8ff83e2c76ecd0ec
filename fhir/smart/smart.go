// Package smart is the authorization of healthd's FHIR server (issue #18):
// SMART Backend Services (the OAuth 2.0 client-credentials grant with a signed
// JWT client assertion, RFC 7523, as SMART App Launch 2.0 profiles it).
// Registered clients and their public keys (JWKS) come from a configuration
// file; each client may ask for some scopes (SMART v2 syntax, e.g.
// system/Observation.rs, system/*.cruds) and claim some purposes of use. The
// access tokens it issues are opaque, short-lived, and kept in memory.
//
// It decides only who the caller is and what it may ask the FHIR server to
// do: whether the chain allows the read or write (consent, CheckAccess) is
// decided by the chain, afterwards, as everywhere in healthd.
package smart

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AssertionType is the client_assertion_type of SMART Backend Services.
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Algorithms are the assertion signature algorithms accepted: SMART requires
// servers to support RS384 and ES384.
var Algorithms = []jose.SignatureAlgorithm{jose.RS384, jose.ES384}

// Client is a registered backend client (an EHR integration).
type Client struct {
	ID   string `json:"client_id"`
	Name string `json:"name"`
	// JWKS is the client's public key set, by value.
	JWKS jose.JSONWebKeySet `json:"jwks"`
	// Scopes it may be granted, e.g. "system/*.rs", "system/Observation.cruds".
	Scopes []string `json:"scopes"`
	// Purposes of use it may claim (HL7 ActReason codes); the first is its
	// default. Empty: TREAT only.
	Purposes []string `json:"purposes"`
}

// Config is the clients file.
type Config struct {
	Clients []Client `json:"clients"`
}

// LoadConfig reads and checks a clients file (Config.Validate): a server
// must not start with a client it could not authenticate safely.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks every client: a unique client_id, at least one key and
// every key fit to verify its assertions (CheckKey; a refused key is a
// *KeyError), at least one scope and every scope well-formed.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		switch {
		case cl.ID == "" || seen[cl.ID]:
			return fmt.Errorf("client %d: client_id empty or repeated", i)
		case len(cl.JWKS.Keys) == 0:
			return fmt.Errorf("client %s: no public key (jwks)", cl.ID)
		case len(cl.Scopes) == 0:
			return fmt.Errorf("client %s: no scopes", cl.ID)
		}
		for j := range cl.JWKS.Keys {
			if err := CheckKey(&cl.JWKS.Keys[j]); err != nil {
				return &KeyError{ClientID: cl.ID, KeyID: cl.JWKS.Keys[j].KeyID, Index: j, Err: err}
			}
		}
		for _, s := range cl.Scopes {
			if _, err := ParseScope(s); err != nil {
				return fmt.Errorf("client %s: %w", cl.ID, err)
			}
		}
		seen[cl.ID] = true
	}
	return nil
}

// MinRSABits is the smallest RSA modulus accepted for a client key (NIST SP
// 800-131A: RSA below 2048 bits is disallowed for signatures).
const MinRSABits = 2048

// Why a client key is refused; a *KeyError wraps one of these.
var (
	ErrKeyNotPublic = errors.New("not a valid public key")
	ErrKeyUse       = errors.New("not a signing key")
	ErrKeyAlg       = errors.New("wrong alg")
	ErrKeyType      = errors.New("unusable key type")
	ErrKeyTooSmall  = errors.New("RSA key too small")
)

// KeyError is a key of a registered client that the server refuses: it
// names the client and the key, so the operator knows which entry of the
// clients file to fix. Err wraps one of the ErrKey… reasons.
type KeyError struct {
	ClientID string
	KeyID    string // the key's kid, "" if it has none
	Index    int    // its position in the client's jwks.keys
	Err      error
}

func (e *KeyError) Error() string {
	key := fmt.Sprintf("key %q", e.KeyID)
	if e.KeyID == "" {
		key = fmt.Sprintf("key jwks.keys[%d] (no kid)", e.Index)
	}
	return fmt.Sprintf("client %s: %s: %v", e.ClientID, key, e.Err)
}

func (e *KeyError) Unwrap() error { return e.Err }

// CheckKey returns why k cannot be a client's assertion key, or nil.
//
// The token endpoint verifies only RS384 and ES384 (Algorithms, the two SMART
// Backend Services requires), so a key is accepted only if it can verify one
// of them, and is refused at load rather than failing every token request
// later or, worse, being trusted for something it was not issued for:
//   - it must be a public key (never a private or symmetric key: the file is
//     not a secret, and an oct key would make the assertion a shared secret);
//   - its use, if set, must be "sig" (an "enc" key was issued for encryption);
//   - an RSA key must have at least MinRSABits bits, whatever its alg;
//   - its alg, if set, must be RS384 on an RSA key or ES384 on an EC P-384
//     key.
//
// A key with no alg stays accepted (alg is optional in RFC 7517 and many
// JWKS endpoints omit it), but then its type alone must fit: RSA (verified
// as RS384) or EC P-384 (ES384). Other curves and Ed25519 are refused since
// no accepted algorithm could ever verify with them.
func CheckKey(k *jose.JSONWebKey) error {
	if !k.IsPublic() || !k.Valid() {
		switch k.Key.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return fmt.Errorf("%w: it is a private key (register only the client's public key)", ErrKeyNotPublic)
		case []byte:
			return fmt.Errorf("%w: it is a symmetric (oct) key", ErrKeyNotPublic)
		}
		return ErrKeyNotPublic
	}
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("%w: its use is %q, want \"sig\" or none", ErrKeyUse, k.Use)
	}
	// fits is the one accepted algorithm this key type verifies ("" if none)
	var fits jose.SignatureAlgorithm
	kind := "Ed25519"
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		kind = "RSA"
		if bits := pub.N.BitLen(); bits < MinRSABits {
			return fmt.Errorf("%w: %d bits, want at least %d", ErrKeyTooSmall, bits, MinRSABits)
		}
		fits = jose.RS384
	case *ecdsa.PublicKey:
		kind = "EC " + pub.Curve.Params().Name
		if pub.Curve == elliptic.P384() {
			fits = jose.ES384
		}
	}
	alg := jose.SignatureAlgorithm(k.Algorithm)
	switch {
	case alg != "" && !slices.Contains(Algorithms, alg):
		return fmt.Errorf("%w: %s, want RS384 or ES384", ErrKeyAlg, alg)
	case alg != "" && alg != fits:
		return fmt.Errorf("%w: %s on an %s key", ErrKeyAlg, alg, kind)
	case fits == "":
		return fmt.Errorf("%w: an %s key verifies neither RS384 nor ES384 (want RSA or EC P-384)", ErrKeyType, kind)
	}
	return nil
}

// Grant is what an access token allows.
type Grant struct {
	ClientID string
	Scopes   []Scope
	Purpose  string
	Expires  time.Time
}

// Allows reports whether the grant covers interaction (one of c r u d s) on
// resourceType.
func (g Grant) Allows(resourceType string, interaction byte) bool {
	return slices.ContainsFunc(g.Scopes, func(s Scope) bool { return s.Allows(resourceType, interaction) })
}

// Scope is a SMART v2 system scope: system/<type or *>.<cruds>.
type Scope struct {
	ResourceType string // "*" for every type
	Interactions string // a subset of "cruds", in that order
}

func (s Scope) String() string { return "system/" + s.ResourceType + "." + s.Interactions }

// Allows reports whether s covers interaction on resourceType.
func (s Scope) Allows(resourceType string, interaction byte) bool {
	return (s.ResourceType == "*" || s.ResourceType == resourceType) && strings.IndexByte(s.Interactions, interaction) >= 0
}

// coveredBy reports whether the scopes held grant everything t asks: each
// interaction of t by some scope for t's type or for every type (so
// system/*.rs and system/*.cu together cover system/Observation.cru).
func (t Scope) coveredBy(held []Scope) bool {
	for i := range len(t.Interactions) {
		ok := slices.ContainsFunc(held, func(s Scope) bool {
			return (s.ResourceType == "*" || s.ResourceType == t.ResourceType) && strings.IndexByte(s.Interactions, t.Interactions[i]) >= 0
		})
		if !ok {
			return false
		}
	}
	return true
}

// ParseScope parses a SMART v2 system scope. The v1 suffixes .read, .write
// and .* are accepted as rs, cud and cruds.
func ParseScope(s string) (Scope, error) {
	rest, ok := strings.CutPrefix(s, "system/")
	typ, perms, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || typ == "" || !validType(typ) {
		return Scope{}, fmt.Errorf("scope %q: want system/<ResourceType or *>.<cruds>", s)
	}
	switch perms {
	case "read":
		perms = "rs"
	case "write":
		perms = "cud"
	case "*":
		perms = "cruds"
	}
	if perms == "" {
		return Scope{}, fmt.Errorf("scope %q: no permissions", s)
	}
	// the letters must be a subsequence of "cruds", each once
	j := 0
	for i := range len(perms) {
		k := strings.IndexByte("cruds"[j:], perms[i])
		if k < 0 {
			return Scope{}, fmt.Errorf("scope %q: permissions must be letters of cruds, in that order", s)
		}
		j += k + 1
	}
	return Scope{ResourceType: typ, Interactions: perms}, nil
}

func validType(t string) bool {
	if t == "*" {
		return true
	}
	for i, r := range t {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' && i > 0) {
			return false
		}
	}
	return true
}

// Error is an OAuth 2.0 error response (RFC 6749 §5.2).
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func oauthError(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	Purpose     string `json:"purpose_of_use"`
}

// Authority issues and checks access tokens.
type Authority struct {
	// TokenURL is the token endpoint's absolute URL: assertions must name it
	// as their audience.
	TokenURL string
	// TokenTTL is how long an access token lasts (default 5 minutes).
	TokenTTL time.Duration
	now      func() time.Time
	clients  map[string]Client

	mu     sync.Mutex
	tokens map[string]Grant     // access token → grant
	jtis   map[string]time.Time // "client|jti" of assertions seen → their expiry
}

// NewAuthority returns an authority for cfg's clients.
func NewAuthority(cfg Config, tokenURL string) *Authority {
	a := &Authority{
		TokenURL: tokenURL, TokenTTL: 5 * time.Minute, now: time.Now, clients: map[string]Client{},
		tokens: map[string]Grant{}, jtis: map[string]time.Time{},
	}
	for _, c := range cfg.Clients {
		a.clients[c.ID] = c
	}
	return a
}

// maxAssertionLife is how far in the future an assertion's exp may be (SMART:
// no more than five minutes).
const maxAssertionLife = 5 * time.Minute

// Token runs the client-credentials grant: grantType must be
// client_credentials, assertionType AssertionType, assertion a JWT signed by
// one of the client's keys with iss = sub = client_id, aud = TokenURL, an exp
// at most five minutes ahead and a jti never seen before; scope lists the
// scopes asked (each within the client's), purpose the purpose of use (one of
// the client's; default its first, or TREAT).
func (a *Authority) Token(grantType, assertionType, assertion, scope, purpose string) (TokenResponse, error) {
	if grantType != "client_credentials" {
		return TokenResponse{}, oauthError("unsupported_grant_type", "grant_type must be client_credentials")
	}
	if assertionType != AssertionType {
		return TokenResponse{}, oauthError("invalid_request", "client_assertion_type must be %s", AssertionType)
	}
	tok, err := jwt.ParseSigned(assertion, Algorithms)
	if err != nil {
		return TokenResponse{}, oauthError("invalid_client", "the client assertion is not a JWT signed with RS384 or ES384: %v", err)
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return TokenResponse{}, oauthError("invalid_client", "the client assertion's claims do not parse")
	}
	client, ok := a.clients[unverified.Issuer]
	if !ok {
		return TokenResponse{}, oauthError("invalid_client", "unknown client %q", unverified.Issuer)
	}
	var claims jwt.Claims
	verified := false
	for _, h := range tok.Headers {
		keys := client.JWKS.Keys
		if h.KeyID != "" {
			keys = client.JWKS.Key(h.KeyID)
		}
		for _, k := range keys {
			if tok.Claims(k.Key, &claims) == nil {
				verified = true
				break
			}
		}
	}
	if !verified {
		return TokenResponse{}, oauthError("invalid_client", "the client assertion is not signed by a key registered for %s", client.ID)
	}
	now := a.now()
	switch {
	case claims.Subject != client.ID:
		return TokenResponse{}, oauthError("invalid_client", "the assertion's sub must be the client_id")
	case claims.Expiry == nil || claims.ID == "":
		return TokenResponse{}, oauthError("invalid_client", "the assertion needs exp and jti")
	case claims.Expiry.Time().After(now.Add(maxAssertionLife + time.Minute)):
		return TokenResponse{}, oauthError("invalid_client", "the assertion's exp is more than five minutes ahead")
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: client.ID, AnyAudience: jwt.Audience{a.TokenURL}, Time: now}, time.Minute); err != nil {
		return TokenResponse{}, oauthError("invalid_client", "the client assertion: %v (its aud must be %s)", err, a.TokenURL)
	}
	asked, err := a.scopes(client, scope)
	if err != nil {
		return TokenResponse{}, err
	}
	if purpose == "" {
		purpose = "TREAT"
		if len(client.Purposes) > 0 {
			purpose = client.Purposes[0]
		}
	}
	allowed := client.Purposes
	if len(allowed) == 0 {
		allowed = []string{"TREAT"}
	}
	if !slices.Contains(allowed, purpose) {
		return TokenResponse{}, oauthError("invalid_scope", "client %s may not claim the purpose of use %s", client.ID, purpose)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	// forget assertions that could not be replayed anyway: validation allows
	// one minute past exp, so they are kept a minute more than that
	for k, exp := range a.jtis {
		if now.After(exp.Add(2 * time.Minute)) {
			delete(a.jtis, k)
		}
	}
	for k, g := range a.tokens {
		if now.After(g.Expires) {
			delete(a.tokens, k)
		}
	}
	replay := client.ID + "|" + claims.ID
	if _, seen := a.jtis[replay]; seen {
		return TokenResponse{}, oauthError("invalid_client", "the assertion's jti was used before: sign a new assertion for each token")
	}
	a.jtis[replay] = claims.Expiry.Time()
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return TokenResponse{}, err
	}
	token := hex.EncodeToString(b[:])
	g := Grant{ClientID: client.ID, Scopes: asked, Purpose: purpose, Expires: now.Add(a.TokenTTL)}
	a.tokens[token] = g
	names := make([]string, len(asked))
	for i, s := range asked {
		names[i] = s.String()
	}
	return TokenResponse{
		AccessToken: token, TokenType: "bearer", ExpiresIn: int(a.TokenTTL.Seconds()), Scope: strings.Join(names, " "), Purpose: purpose,
	}, nil
}

// scopes parses the space-separated scopes asked and checks each is within
// the client's.
func (a *Authority) scopes(client Client, scope string) ([]Scope, error) {
	fields := strings.Fields(scope)
	if len(fields) == 0 {
		return nil, oauthError("invalid_scope", "ask for at least one scope, e.g. system/Observation.rs")
	}
	var held []Scope
	for _, c := range client.Scopes {
		if cs, err := ParseScope(c); err == nil {
			held = append(held, cs)
		}
	}
	var out []Scope
	for _, f := range fields {
		s, err := ParseScope(f)
		if err != nil {
			return nil, oauthError("invalid_scope", "%v", err)
		}
		if !s.coveredBy(held) {
			return nil, oauthError("invalid_scope", "client %s may not be granted %s", client.ID, f)
		}
		out = append(out, s)
	}
	return out, nil
}

// ErrNoToken, ErrBadToken: the bearer token is missing, or unknown/expired.
var (
	ErrNoToken  = errors.New("no bearer token: get one from the token endpoint (SMART Backend Services)")
	ErrBadToken = errors.New("the bearer token is unknown or expired")
)

// Check returns the grant of a bearer token (the Authorization header's value).
func (a *Authority) Check(authorization string) (Grant, error) {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Grant{}, ErrNoToken
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.tokens[token]
	if !ok || a.now().After(g.Expires) {
		return Grant{}, ErrBadToken
	}
	return g, nil
}
