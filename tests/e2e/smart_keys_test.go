package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/healthd-chain/healthd/testutil/network"
)

// TestFHIRServeRefusesWeakClientKeys: `healthd fhir serve` reads its clients
// file before it needs a key or a node, so a client key the token endpoint
// must not trust stops the server at start, with a message naming the client
// and the key's kid. No node is started: the refusal comes first, and the
// control case (a good file, no --from) shows the same command gets past the
// clients file and fails only later, for another reason.
func TestFHIRServeRefusesWeakClientKeys(t *testing.T) {
	bin := network.Binary(t)
	ehr, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ehrKey := jose.JSONWebKey{Key: &ehr.PublicKey, KeyID: "ehr-2026", Algorithm: string(jose.ES384), Use: "sig"}
	// serve writes the clients file of an EHR (a good key) and a lab (key),
	// and runs `healthd fhir serve` with it in a fresh home
	serve := func(t *testing.T, key jose.JSONWebKey) (string, int) {
		t.Helper()
		dir := t.TempDir()
		clients := filepath.Join(dir, "clients.json")
		raw, err := json.Marshal(map[string]any{"clients": []any{
			map[string]any{"client_id": "ehr", "jwks": jose.JSONWebKeySet{Keys: []jose.JSONWebKey{ehrKey}}, "scopes": []string{"system/*.rs"}},
			map[string]any{"client_id": "lab", "jwks": jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key}}, "scopes": []string{"system/Observation.rs"}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(clients, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		// a server that got further than it should would listen until killed
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "fhir", "serve", "--home", filepath.Join(dir, "home"),
			"--clients", clients, "--patients", filepath.Join(dir, "patients.json"), "--listen", "127.0.0.1:0",
			"--keyring-backend", "test").CombinedOutput()
		var exitErr *exec.ExitError
		switch {
		case ctx.Err() != nil:
			t.Fatalf("healthd fhir serve still ran after a minute: %s", out)
		case err == nil:
			return string(out), 0
		case errors.As(err, &exitErr):
			return string(out), exitErr.ExitCode()
		}
		t.Fatalf("run healthd fhir serve: %v", err)
		return "", 0
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		key    jose.JSONWebKey
		reason string
	}{
		{
			"an RSA key of 1024 bits",
			jose.JSONWebKey{Key: &small.PublicKey, KeyID: "lab-2014", Algorithm: string(jose.RS384), Use: "sig"},
			"1024 bits, want at least 2048",
		},
		{
			"an encryption key (use enc)",
			jose.JSONWebKey{Key: &enc.PublicKey, KeyID: "lab-enc", Algorithm: string(jose.ES384), Use: "enc"},
			`its use is "enc"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// given a clients file registering the lab with that key
			// when the hospital starts its FHIR server with it
			out, code := serve(t, tc.key)
			// then the server refuses to start, naming the lab and the key
			if code == 0 {
				t.Fatalf("healthd fhir serve exited 0:\n%s", out)
			}
			for _, want := range []string{`client lab: key "` + tc.key.KeyID + `"`, tc.reason} {
				if !strings.Contains(out, want) {
					t.Errorf("output does not say %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "FHIR R4 server for") {
				t.Errorf("the server started:\n%s", out)
			}
		})
	}

	t.Run("control: a good key passes the clients file", func(t *testing.T) {
		good, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		out, code := serve(t, jose.JSONWebKey{Key: &good.PublicKey, KeyID: "lab-2026", Algorithm: string(jose.ES384), Use: "sig"})
		// it stops later, for want of --from, and blames no key
		if code == 0 || !strings.Contains(out, "--from is required") || strings.Contains(out, "lab-2026") {
			t.Fatalf("exit %d, want a failure for --from only:\n%s", code, out)
		}
	})
}
