package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/healthd-chain/healthd/internal/localnet"
	"github.com/healthd-chain/healthd/internal/proc"
	"github.com/healthd-chain/healthd/testutil/network"
)

// prometheusServer is a real Prometheus scraping the test's node and vault.
type prometheusServer struct {
	t   *testing.T
	URL string
}

// startPrometheus installs Prometheus (scripts/install-prometheus.sh) and
// starts it with the repository's alert rules, scraping every second.
func startPrometheus(t *testing.T, vault string, nodes ...string) (*prometheusServer, string) {
	t.Helper()
	root, err := network.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "install-prometheus.sh")).Output()
	if err != nil {
		t.Fatalf("scripts/install-prometheus.sh: %v", err)
	}
	bin := strings.TrimSpace(string(out))
	ports, err := localnet.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: healthd-node
    static_configs: [{targets: ["%s"]}]
  - job_name: healthd-vault
    static_configs: [{targets: [%q]}]
`, filepath.Join(root, "monitoring", "alerts.yml"), strings.Join(nodes, `", "`), vault)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := proc.Start(bin, []string{
		"--config.file", filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path", filepath.Join(dir, "data"),
		"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", ports[0]),
	}, filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(10 * time.Second)
		if t.Failed() {
			log, _ := os.ReadFile(p.LogPath())
			t.Logf("prometheus log:\n%.3000s", log)
		}
	})
	s := &prometheusServer{t: t, URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return s, filepath.Dir(bin)
}

// api GETs a Prometheus HTTP API path and decodes its data; a non-success
// answer is returned as an error.
func (p *prometheusServer) api(path string, query url.Values, data any) error {
	resp, err := http.Get(p.URL + path + "?" + query.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return err
	}
	if body.Status != "success" {
		return fmt.Errorf("%s %s: %s", path, query.Encode(), body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// value is an instant query's single value (0 for an empty result).
func (p *prometheusServer) value(expr string) (float64, error) {
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := p.api("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return 0, err
	}
	if len(data.Result) == 0 {
		return 0, nil
	}
	s, _ := data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// TestMetricsWithPrometheus runs a real Prometheus against a node and a vault
// with the repository's alert rules, drives a short story (a record filed
// through the vault, a read refused on chain, a consent granted and revoked, a
// read with its receipt, a break-glass access and its review) and checks
// through Prometheus's query API that healthd's counters moved as the story
// says; that every query of the Grafana dashboard parses and names metrics
// that exist; that promtool accepts the alert rules and Prometheus evaluates
// them without error; and that no label value carries an address or hash.
func TestMetricsWithPrometheus(t *testing.T) {
	// two validators, so that the peer metrics exist as on a real network
	net := network.StartNetwork(t, network.NetworkOptions{Validators: 2})
	n := net.Nodes[0]
	ports, err := localnet.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	vaultMetrics := fmt.Sprintf("127.0.0.1:%d", ports[0])
	v := network.StartVault(t, n, "--metrics-listen", vaultMetrics)
	prom, promDir := startPrometheus(t, vaultMetrics, net.Nodes[0].Metrics, net.Nodes[1].Metrics)
	alice, hospital, lab := n.Address("alice"), n.Address("hospital"), n.Address("lab")

	// the story
	dir := t.TempDir()
	original := filepath.Join(dir, "result.json")
	if err := os.WriteFile(original, []byte(labResultFHIR), 0o600); err != nil {
		t.Fatal(err)
	}
	n.CLI("consent", "grant", hospital, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read,write",
		"--expires", "720h", "--from", "alice", "--keyring-backend", "test")
	id := putLabResult(t, n, original, alice, v.URL)
	// a read without consent reaches a block and is refused there
	if res := n.Exec("tx", "records", "access", id, "TREAT", "--from", "lab", "--yes"); res.ExitCode == 0 {
		t.Fatalf("lab read without consent: %s", res.Stdout)
	}
	n.CLI("consent", "grant", lab, "--classes", "lab-result", "--purposes", "TREAT", "--permissions", "read",
		"--expires", "720h", "--from", "alice", "--keyring-backend", "test")
	n.CLI("records", "get", id, "--purpose", "TREAT", "--out", filepath.Join(dir, "lab.json"), "--from", "lab", "--keyring-backend", "test")
	labConsent := newestConsent(t, n, "/healthd/consent/v1/grantees/"+lab+"/consents")
	n.CLI("consent", "revoke", labConsent.ID, "--from", "alice", "--keyring-backend", "test")
	n.CLI("tx", "consent", "break-glass", alice, "unconscious-patient", "ED admission", "--duration", "1h", "--from", "clinic", "--yes")
	e := newestConsent(t, n, "/healthd/consent/v1/patients/"+alice+"/emergency_accesses")
	n.CLI("tx", "consent", "review-emergency", e.ID, "justified", "--from", "registrar", "--yes")

	// what Prometheus saw
	want := map[string]float64{
		`max(sum by (instance) (healthd_records_committed_total{class="lab-result",kind="created"}))`:                            1,
		`max(sum by (instance) (healthd_receipts_total{purpose="TREAT",emergency="false"}))`:                                     1,
		`max(sum by (instance) (healthd_tx_refusals_total{codespace="records",reason="access denied"}))`:                         1,
		`max(sum by (instance) (healthd_consent_events_total{event="granted"}))`:                                                 2, // a break-glass access counts as an emergency access
		`max(sum by (instance) (healthd_consent_events_total{event="revoked"}))`:                                                 1,
		`max(sum by (instance) (healthd_emergency_accesses_total{reason="EMERGENCY_REASON_UNCONSCIOUS_PATIENT"}))`:               1,
		`max(sum by (instance) (healthd_emergency_reviews_total{verdict="REVIEW_STATE_JUSTIFIED"}))`:                             1,
		`max(sum by (instance) (healthd_txs_committed_total{result="refused"}))`:                                                 1,
		`sum(healthd_http_requests_total{server="vault",route=~"PUT /v1/blobs/\\{hash\\}|POST /v1/batch/put",code=~"2.."})`:      1,
		`sum(healthd_http_requests_total{server="vault",route=~"GET /v1/receipts/\\{id\\}/blob|POST /v1/batch/get",code="200"})`: 1,
		`sum(healthd_vault_sweeps_total{result="done"})`:                                                                         1,
		`max(cometbft_consensus_height)`: 3,
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		var missing []string
		for expr, min := range want {
			got, err := prom.value(expr)
			if err != nil {
				t.Fatal(err)
			}
			if got < min {
				missing = append(missing, fmt.Sprintf("%s = %v (want ≥ %v)", expr, got, min))
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never saw:\n%s", strings.Join(missing, "\n"))
		}
		time.Sleep(time.Second)
	}
	// each node counts each committed block once: the consent grants are not
	// counted again by CheckTx, simulation or recheck, nor by the node that
	// did not propose the block
	if got, _ := prom.value(`min(sum by (instance) (healthd_consent_events_total{event="granted"}))`); got != 2 {
		t.Errorf("consents granted counted %v times on a node, want 2 on each", got)
	}

	t.Run("the dashboard's queries parse and name existing metrics", func(t *testing.T) {
		var names []string
		if err := prom.api("/api/v1/label/__name__/values", nil, &names); err != nil {
			t.Fatal(err)
		}
		exists := map[string]bool{}
		for _, n := range names {
			exists[n] = true
		}
		root, _ := network.RepoRoot()
		raw, err := os.ReadFile(filepath.Join(root, "monitoring", "grafana-dashboard.json"))
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Panels []struct {
				Title   string `json:"title"`
				Type    string `json:"type"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatalf("grafana-dashboard.json: %v", err)
		}
		metricName := regexp.MustCompile(`\b(?:healthd|cometbft)_[a-zA-Z0-9_]+`)
		queries := 0
		for _, p := range dash.Panels {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				var res json.RawMessage
				if err := prom.api("/api/v1/query", url.Values{"query": {tg.Expr}}, &res); err != nil {
					t.Errorf("panel %q: %v", p.Title, err)
				}
				for _, m := range metricName.FindAllString(tg.Expr, -1) {
					if !exists[m] {
						t.Errorf("panel %q names %s, which no target exposes", p.Title, m)
					}
				}
			}
		}
		t.Logf("%d panels, %d queries checked against %d metric names", len(dash.Panels), queries, len(names))
	})

	t.Run("the alert rules pass promtool and evaluate", func(t *testing.T) {
		root, _ := network.RepoRoot()
		if out, err := exec.Command(filepath.Join(promDir, "promtool"), "check", "rules", filepath.Join(root, "monitoring", "alerts.yml")).CombinedOutput(); err != nil {
			t.Fatalf("promtool check rules: %v\n%s", err, out)
		}
		var rules struct {
			Groups []struct {
				Rules []struct {
					Name           string `json:"name"`
					Health         string `json:"health"`
					LastError      string `json:"lastError"`
					LastEvaluation string `json:"lastEvaluation"`
					State          string `json:"state"`
				} `json:"rules"`
			} `json:"groups"`
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if err := prom.api("/api/v1/rules", nil, &rules); err != nil {
				t.Fatal(err)
			}
			evaluated, count := 0, 0
			for _, g := range rules.Groups {
				for _, r := range g.Rules {
					count++
					if r.Health == "ok" {
						evaluated++
					} else if r.Health == "err" {
						t.Fatalf("rule %s: %s", r.Name, r.LastError)
					}
				}
			}
			if count == 12 && evaluated == count {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d rules evaluated: %+v", evaluated, count, rules)
			}
			time.Sleep(time.Second)
		}
		// the story opened a break-glass access: its alert fires
		firing := map[string]string{}
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				firing[r.Name] = r.State
			}
		}
		if firing["HealthdEmergencyAccessOpened"] != "firing" || firing["HealthdNodeDown"] != "inactive" {
			t.Fatalf("alert states after the story: %v", firing)
		}
	})

	t.Run("no label carries an address, hash or name", func(t *testing.T) {
		var series []map[string]string
		if err := prom.api("/api/v1/series", url.Values{"match[]": {`{__name__=~"healthd_.+"}`}}, &series); err != nil {
			t.Fatal(err)
		}
		var record struct {
			Record struct {
				ContentHash string `json:"content_hash"`
			} `json:"record"`
		}
		if err := n.GetJSON("/healthd/records/v1/records/"+id, &record); err != nil {
			t.Fatal(err)
		}
		forbidden := []string{"health1", record.Record.ContentHash, "ZQXJ-7731", "alice"}
		for _, s := range series {
			for k, val := range s {
				for _, f := range forbidden {
					if f != "" && strings.Contains(val, f) {
						t.Errorf("series %v: label %s=%q carries %q", s, k, val, f)
					}
				}
				if k == "route" && regexp.MustCompile(`[0-9a-f]{16}`).MatchString(val) {
					t.Errorf("series %v: route %q has a hash in it", s, val)
				}
			}
		}
		t.Logf("%d healthd series, none with an identifier", len(series))
	})

	t.Run("screenshot of the main queries in Prometheus", func(t *testing.T) {
		chromium := findChromium(t)
		shots := os.Getenv("HEALTHD_METRICS_SCREENSHOTS")
		if shots == "" {
			shots = t.TempDir()
		} else if !filepath.IsAbs(shots) {
			root, _ := network.RepoRoot()
			shots = filepath.Join(root, shots)
		}
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
		q := url.Values{}
		for i, expr := range []string{
			fmt.Sprintf(`healthd_records_committed_total{class="lab-result",instance=%q}`, n.Metrics),
			fmt.Sprintf(`healthd_consent_events_total{instance=%q}`, n.Metrics),
			`sum by (route, code) (healthd_http_requests_total{server="vault",code!="404"})`,
		} {
			q.Set(fmt.Sprintf("g%d.expr", i), expr)
			q.Set(fmt.Sprintf("g%d.tab", i), "0")
			q.Set(fmt.Sprintf("g%d.range_input", i), "1m")
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1280, 1600),
			chromedp.Flag("disable-dev-shm-usage", true))...)
		defer cancelAlloc()
		ctx, cancel := chromedp.NewContext(allocCtx)
		defer cancel()
		ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
		defer cancelTimeout()
		var png []byte
		if err := chromedp.Run(ctx,
			// Debian's Prometheus serves the classic web UI
			chromedp.Navigate(prom.URL+"/classic/graph?"+q.Encode()),
			chromedp.WaitVisible(`#graph0 svg`, chromedp.ByQuery),
			chromedp.WaitVisible(`#graph2 svg`, chromedp.ByQuery),
			chromedp.Sleep(2*time.Second),
			// the navigation bar is fixed: keep it at the top of a full-page shot
			chromedp.Evaluate(`document.querySelectorAll("nav").forEach(e => e.style.position = "static")`, nil),
			chromedp.FullScreenshot(&png, 100), // 100: PNG
		); err != nil {
			t.Fatalf("Prometheus UI: %v", err)
		}
		path := filepath.Join(shots, "prometheus-graphs.png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s (%d bytes)", path, len(png))
	})
}
