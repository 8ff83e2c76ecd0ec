package vault

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"cosmossdk.io/core/address"

	"github.com/cosmos/cosmos-sdk/crypto/keyring"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	"github.com/cosmos/cosmos-sdk/types/tx/signing"

	"github.com/healthd-chain/healthd/crypto"
)

// Request authentication headers. The signature is the account's secp256k1
// signature over the ADR-036 document of the canonical request (method, host,
// path, content SHA-256, timestamp, nonce), so any keyring — a Ledger included —
// can sign. The host binds a request to the vault it was made for: another
// vault (or whoever sees the request) cannot replay it elsewhere.
const (
	HeaderAddress   = "X-Healthd-Address"
	HeaderPubKey    = "X-Healthd-Pubkey"
	HeaderTimestamp = "X-Healthd-Timestamp"
	HeaderSignature = "X-Healthd-Signature"
	HeaderContent   = "X-Healthd-Content-Sha256"
	// HeaderNonce is random per request: signatures are deterministic, so two
	// identical requests in the same second would otherwise look like a replay.
	HeaderNonce = "X-Healthd-Nonce"
)

// EmptySHA256 is the content hash of a request without a body.
var EmptySHA256 = hex.EncodeToString(func() []byte { h := sha256.Sum256(nil); return h[:] }())

// canonicalRequest is what a request's signature covers. host is the request's
// Host (what the client dialled; a reverse proxy must pass it through).
func canonicalRequest(method, host, path, contentSHA256 string, ts int64, nonce string) []byte {
	return []byte("healthd-vault-v2\n" + method + "\n" + strings.ToLower(host) + "\n" + path + "\n" + contentSHA256 + "\n" +
		strconv.FormatInt(ts, 10) + "\n" + nonce)
}

// SignRequest signs req for the keyring entry uid (whose bech32 address is
// signer), over contentSHA256 (hex; EmptySHA256 for no body), at time now.
func SignRequest(req *http.Request, kr keyring.Keyring, uid, signer, contentSHA256 string, now time.Time) error {
	ts := now.Unix()
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return err
	}
	nonce := hex.EncodeToString(n[:])
	doc := crypto.ADR036Doc(signer, canonicalRequest(req.Method, req.Host, req.URL.Path, contentSHA256, ts, nonce))
	sig, pub, err := kr.Sign(uid, doc, signing.SignMode_SIGN_MODE_LEGACY_AMINO_JSON)
	if err != nil {
		return fmt.Errorf("sign the vault request: %w", err)
	}
	req.Header.Set(HeaderAddress, signer)
	req.Header.Set(HeaderPubKey, base64.StdEncoding.EncodeToString(pub.Bytes()))
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	req.Header.Set(HeaderContent, contentSHA256)
	req.Header.Set(HeaderNonce, nonce)
	return nil
}

// Verifier checks request signatures, their freshness, and that none is replayed.
type Verifier struct {
	ac     address.Codec
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	seen      map[string]map[string]time.Time // address → nonce → when it may be forgotten
	lastSweep time.Time
}

// MaxRememberedPerAccount bounds the replay cache of one account: past it,
// that account's new requests are refused (429) until old ones leave the
// window. Only accounts known on chain are remembered (the server asks first),
// so the cache is bounded by the chain's accounts, and a flood from one
// account, or from fresh keys, never locks another account out.
const MaxRememberedPerAccount = 1 << 14

// NewVerifier accepts requests signed within window of now (both directions).
func NewVerifier(ac address.Codec, window time.Duration) *Verifier {
	return &Verifier{ac: ac, window: window, now: time.Now, seen: map[string]map[string]time.Time{}}
}

// ErrUnauthenticated is the cause of every authentication failure.
var ErrUnauthenticated = errors.New("request not authenticated")

// ErrTooManyRequests is returned when an account has too many requests in the
// replay window.
var ErrTooManyRequests = errors.New("too many requests")

// Signed is an authenticated request: who signed it, with which nonce, when.
type Signed struct {
	Address   string
	Nonce     string
	Timestamp time.Time
}

// Verify authenticates req and remembers it (Authenticate, then Remember).
func (v *Verifier) Verify(req *http.Request) (string, error) {
	sr, err := v.Authenticate(req)
	if err != nil {
		return "", err
	}
	return sr.Address, v.Remember(sr)
}

// Authenticate returns who signed req if the signature is good and fresh. It
// does not remember the request: call Remember once the account is known.
func (v *Verifier) Authenticate(req *http.Request) (Signed, error) {
	fail := func(why string) (Signed, error) { return Signed{}, fmt.Errorf("%w: %s", ErrUnauthenticated, why) }
	addr, pubB64, tsStr, sigB64, content, nonce := req.Header.Get(HeaderAddress), req.Header.Get(HeaderPubKey),
		req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), req.Header.Get(HeaderContent), req.Header.Get(HeaderNonce)
	if addr == "" || pubB64 == "" || tsStr == "" || sigB64 == "" || content == "" || len(nonce) != 32 {
		return fail("missing X-Healthd-* headers")
	}
	ts, err := strconv.ParseInt(tsStr, 10, 64)
	if err != nil {
		return fail("bad timestamp")
	}
	now := v.now()
	if d := now.Sub(time.Unix(ts, 0)); d > v.window || d < -v.window {
		return fail(fmt.Sprintf("timestamp outside the %s replay window (check the clock)", v.window))
	}
	pubBytes, err := base64.StdEncoding.Strict().DecodeString(pubB64)
	if err != nil || len(pubBytes) != secp256k1.PubKeySize {
		return fail("bad public key")
	}
	pub := &secp256k1.PubKey{Key: pubBytes}
	owner, err := v.ac.BytesToString(pub.Address())
	if err != nil || owner != addr {
		return fail("the public key is not the address's")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sigB64)
	if err != nil {
		return fail("bad signature encoding")
	}
	doc := crypto.ADR036Doc(addr, canonicalRequest(req.Method, req.Host, req.URL.Path, content, ts, nonce))
	if !pub.VerifySignature(doc, sig) {
		return fail("bad signature")
	}
	return Signed{Address: addr, Nonce: nonce, Timestamp: time.Unix(ts, 0)}, nil
}

// Remember records an authenticated request until it leaves the window. A
// request seen before is a replay (ErrUnauthenticated); an account past
// MaxRememberedPerAccount gets ErrTooManyRequests. Replays are recognised by
// (address, nonce): the nonce is signed, and unlike the signature's text it
// has one encoding.
func (v *Verifier) Remember(sr Signed) error {
	now := v.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Sub(v.lastSweep) > time.Second { // at most one sweep a second
		for addr, nonces := range v.seen {
			for n, until := range nonces {
				if now.After(until) {
					delete(nonces, n)
				}
			}
			if len(nonces) == 0 {
				delete(v.seen, addr)
			}
		}
		v.lastSweep = now
	}
	nonces := v.seen[sr.Address]
	if _, replayed := nonces[sr.Nonce]; replayed {
		return fmt.Errorf("%w: replayed request", ErrUnauthenticated)
	}
	if len(nonces) >= MaxRememberedPerAccount {
		return fmt.Errorf("%w: %d requests of %s in the %s replay window; retry later", ErrTooManyRequests,
			len(nonces), sr.Address, v.window)
	}
	if nonces == nil {
		nonces = map[string]time.Time{}
		v.seen[sr.Address] = nonces
	}
	nonces[sr.Nonce] = sr.Timestamp.Add(v.window)
	return nil
}
