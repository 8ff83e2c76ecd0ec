package vault

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cosmos/cosmos-sdk/types/tx/signing"
	"github.com/healthd-chain/healthd/crypto"

	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/codec/address"
	codectypes "github.com/cosmos/cosmos-sdk/codec/types"
	cryptocodec "github.com/cosmos/cosmos-sdk/crypto/codec"
	"github.com/cosmos/cosmos-sdk/crypto/hd"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"
)

// FuzzAuthenticate: the vault's request authentication, which every request
// from the network goes through first. Starting from one genuinely signed
// request, the fuzzer changes its method, host, path and each X-Healthd-*
// header. Authenticate must never panic, and it may accept a request only if
// everything the signature covers is what was signed (the host compared
// without case).
func FuzzAuthenticate(f *testing.F) {
	reg := codectypes.NewInterfaceRegistry()
	cryptocodec.RegisterInterfaces(reg)
	kr := keyring.NewInMemory(codec.NewProtoCodec(reg))
	// a public test mnemonic (config.yml's "hospital"): localnet only
	rec, err := kr.NewAccount("hospital", "discover neck grace climb identify shield wedding ramp play tattoo live measure hair awake deposit ring hungry inject coffee skin pass field hover wave",
		"", hd.CreateHDPath(118, 0, 0).String(), hd.Secp256k1)
	if err != nil {
		f.Fatal(err)
	}
	ac := address.NewBech32Codec("health")
	a, _ := rec.GetAddress()
	addr, _ := ac.BytesToString(a)
	at := time.Unix(1_800_000_000, 0)
	req, _ := http.NewRequest(http.MethodPut, "http://vault.example:8800/v1/blobs/"+EmptySHA256, nil)
	// signed as SignRequest does, with a fixed nonce: the fuzzer's worker
	// processes rebuild this seed and must get the same bytes (secp256k1
	// signing is deterministic)
	nonce := strings.Repeat("0f", 16)
	doc := crypto.ADR036Doc(addr, canonicalRequest(req.Method, req.Host, req.URL.Path, EmptySHA256, at.Unix(), nonce))
	sigBytes, pubKey, err := kr.Sign("hospital", doc, signing.SignMode_SIGN_MODE_LEGACY_AMINO_JSON)
	if err != nil {
		f.Fatal(err)
	}
	signed := []string{
		req.Method, req.Host, req.URL.Path, addr, base64.StdEncoding.EncodeToString(pubKey.Bytes()),
		strconv.FormatInt(at.Unix(), 10), base64.StdEncoding.EncodeToString(sigBytes), EmptySHA256, nonce,
	}
	f.Add(signed[0], signed[1], signed[2], signed[3], signed[4], signed[5], signed[6], signed[7], signed[8])
	v := NewVerifier(ac, 5*time.Minute)
	v.now = func() time.Time { return at }
	build := func(method, host, path, address, pub, ts, sig, content, nonce string) *http.Request {
		r := &http.Request{Method: method, Host: host, URL: req.URL.ResolveReference(req.URL), Header: http.Header{}}
		r.URL.Path = path
		for k, val := range map[string]string{HeaderAddress: address, HeaderPubKey: pub, HeaderTimestamp: ts, HeaderSignature: sig, HeaderContent: content, HeaderNonce: nonce} {
			r.Header.Set(k, val)
		}
		return r
	}
	if _, err := v.Authenticate(build(signed[0], signed[1], signed[2], signed[3], signed[4], signed[5], signed[6], signed[7], signed[8])); err != nil {
		f.Fatalf("the genuine seed does not authenticate: %v", err)
	}
	f.Fuzz(func(t *testing.T, method, host, path, address, pub, ts, sig, content, nonce string) {
		sr, err := v.Authenticate(build(method, host, path, address, pub, ts, sig, content, nonce))
		if err != nil {
			return
		}
		got := []string{method, strings.ToLower(host), path, address, ts, content, nonce}
		want := []string{signed[0], strings.ToLower(signed[1]), signed[2], signed[3], signed[5], signed[7], signed[8]}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("accepted a request that differs from the signed one in field %d: %q, signed %q", i, got[i], want[i])
			}
		}
		if sr.Address != addr {
			t.Fatalf("authenticated as %s", sr.Address)
		}
	})
}
