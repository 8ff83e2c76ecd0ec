package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/fhir/smart"
	"github.com/healthd-chain/healthd/testutil/network"
)

// BenchmarkFHIRServer times the FHIR REST API against the CLI's bulk
// commands in the same run, on one fresh chain and vault per iteration: the
// hospital's EHR POSTs one synthetic patient history (3,500 resources unless
// HEALTHD_BENCH_RESOURCES says otherwise) as transaction Bundles of at most
// 875 entries to `healthd fhir serve`, then asks $everything; and the
// hospital's CLI imports the same history for a second patient with
// `healthd fhir import` and exports it with `healthd fhir export`. It reports
// resources per second of each and the FHIR/CLI ratios.
//
//	go test -run '^$' -bench FHIRServer -benchtime 1x -count 3 -timeout 60m ./tests/e2e/
func BenchmarkFHIRServer(b *testing.B) {
	resources := benchResources(b)
	const mrn, perTx = "MRN-BENCH-1", 875
	tmp := b.TempDir()
	// the CLI's Bundle (collection) and the EHR's transactions, of the same history
	raw, err := fhir.SyntheticBundle(resources, 1)
	if err != nil {
		b.Fatal(err)
	}
	cliBundle := filepath.Join(tmp, "bundle.json")
	if err := os.WriteFile(cliBundle, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	var whole struct {
		Entry []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(transactionBundleSeed(b, resources, mrn, 1), &whole); err != nil {
		b.Fatal(err)
	}
	var txs [][]byte
	for start := 0; start < len(whole.Entry); start += perTx {
		body, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": whole.Entry[start:min(start+perTx, len(whole.Entry))]})
		if err != nil {
			b.Fatal(err)
		}
		txs = append(txs, body)
	}
	key, clientsFile := benchClient(b, tmp)

	// the EHR posts its transactions one after the other, or 4 at a time (an
	// interface engine with parallel workers)
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("posters=%d", workers), func(b *testing.B) {
			var postSecs, everythingSecs, importSecs, exportSecs float64
			for range b.N {
				b.StopTimer()
				n := network.StartNode(b)
				n.CLITimeout = 20 * time.Minute
				v := network.StartVault(b, n)
				hospital := n.Address("hospital")
				classes := "other,vital-signs,lab-result,diagnosis,prescription,procedure,immunization,allergy,clinical-note"
				for _, patient := range []string{"alice", "bob"} {
					n.CLI("consent", "grant", hospital, "--classes", classes, "--purposes", "TREAT", "--permissions", "read,write",
						"--expires", "720h", "--from", patient, "--keyring-backend", "test", "--yes")
				}
				patients := filepath.Join(b.TempDir(), "patients.json")
				n.CLI("fhir", "patients", "set", mrn, n.Address("alice"), "--patients", patients)
				srv := network.StartFHIRServer(b, n, "hospital", v.URL, clientsFile, patients, "--mrn-system", "urn:example:mrn")
				token := benchToken(b, srv.URL, key)
				b.StartTimer()

				start := time.Now()
				var created atomic.Int64
				var postErr atomic.Pointer[error]
				var wg sync.WaitGroup
				sem := make(chan struct{}, workers)
				for _, body := range txs {
					sem <- struct{}{}
					wg.Go(func() {
						defer func() { <-sem }()
						var resp struct {
							Entry []json.RawMessage `json:"entry"`
						}
						benchFHIR(b, http.MethodPost, srv.URL+"/", token, body, &resp)
						created.Add(int64(len(resp.Entry)))
					})
				}
				wg.Wait()
				postSecs += time.Since(start).Seconds()
				if err := postErr.Load(); err != nil {
					b.Fatal(*err)
				}
				if int(created.Load()) != resources {
					b.Fatalf("the FHIR server created %d of %d", created.Load(), resources)
				}
				start = time.Now()
				var all struct {
					Total int `json:"total"`
				}
				benchFHIR(b, http.MethodGet, srv.URL+"/Patient/"+mrn+"/$everything", token, nil, &all)
				everythingSecs += time.Since(start).Seconds()
				if all.Total != resources {
					b.Fatalf("$everything returned %d of %d", all.Total, resources)
				}

				var imported struct {
					Committed []json.RawMessage `json:"committed"`
				}
				secs, _, _ := timedCLI(b, n, &imported, "fhir", "import", cliBundle, "--patient", n.Address("bob"), "--vault", v.URL,
					"--from", "hospital", "--keyring-backend", "test", "--output", "json")
				importSecs += secs
				var exported struct {
					Exported int `json:"exported"`
				}
				secs, _, _ = timedCLI(b, n, &exported, "fhir", "export", "--patient", n.Address("bob"), "--out", filepath.Join(b.TempDir(), "out.json"),
					"--from", "hospital", "--keyring-backend", "test", "--output", "json")
				exportSecs += secs
				if len(imported.Committed) != resources || exported.Exported != resources {
					b.Fatalf("the CLI imported %d and exported %d of %d", len(imported.Committed), exported.Exported, resources)
				}
				b.StopTimer()
				v.Stop()
				n.Stop()
				b.StartTimer()
			}
			total := float64(resources * b.N)
			b.ReportMetric(total/postSecs, "fhir-post-res/s")
			b.ReportMetric(total/everythingSecs, "fhir-everything-res/s")
			b.ReportMetric(total/importSecs, "cli-import-res/s")
			b.ReportMetric(total/exportSecs, "cli-export-res/s")
			b.ReportMetric(importSecs/postSecs, "post/import")
			b.ReportMetric(exportSecs/everythingSecs, "everything/export")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// transactionBundleSeed is transactionBundle for a benchmark, with a seed.
func transactionBundleSeed(b *testing.B, n int, mrn string, seed uint64) []byte {
	raw, err := fhir.SyntheticBundle(n, seed)
	if err != nil {
		b.Fatal(err)
	}
	return toTransaction(b, raw, mrn)
}

// benchClient registers an ES384 SMART client "bench" with every scope.
func benchClient(b testing.TB, dir string) (*ecdsa.PrivateKey, string) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	cfg := smart.Config{Clients: []smart.Client{{
		ID: "bench", JWKS: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k", Algorithm: "ES384"}}},
		Scopes: []string{"system/*.cruds"},
	}}}
	raw, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	return k, path
}

// benchToken gets a token with every scope through SMART Backend Services.
func benchToken(b testing.TB, base string, k *ecdsa.PrivateKey) string {
	return benchTokenScope(b, base, k, "system/*.cruds")
}

// benchTokenScope gets a token for scope through SMART Backend Services.
func benchTokenScope(b testing.TB, base string, k *ecdsa.PrivateKey, scope string) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES384, Key: jose.JSONWebKey{Key: k, KeyID: "k"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	assertion, err := jwt.Signed(sig).Claims(jwt.Claims{
		Issuer: "bench", Subject: "bench", Audience: jwt.Audience{base + "/token"}, ID: fmt.Sprint(now.UnixNano()),
		Expiry: jwt.NewNumericDate(now.Add(4 * time.Minute)),
	}).Serialize()
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.PostForm(base+"/token", url.Values{
		"grant_type": {"client_credentials"}, "client_assertion_type": {smart.AssertionType},
		"client_assertion": {assertion}, "scope": {scope},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var tr smart.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		b.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

// benchFHIR makes one FHIR request that must succeed.
func benchFHIR(b *testing.B, method, u, token string, body []byte, out any) {
	if err := fhirRequest(method, u, token, body, out); err != nil {
		b.Fatal(err)
	}
}

// fhirRequest makes one FHIR request and decodes its 200 answer into out.
func fhirRequest(method, u, token string, body []byte, out any) error {
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := (&http.Client{Timeout: 20 * time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		buf := new(bytes.Buffer)
		_, _ = buf.ReadFrom(resp.Body)
		return fmt.Errorf("%s %s: %s %s", method, u, resp.Status, buf.String())
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
