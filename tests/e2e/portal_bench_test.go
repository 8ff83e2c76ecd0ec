package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/testutil/network"
)

// BenchmarkPortalTimeline times what a patient with a large history waits
// for: from "show my records" to the first page of her timeline, in headless
// Chromium, on a node and vault of this machine. Each iteration starts a new
// portal (nothing decrypted yet: it downloads and decrypts every record in
// batches, without receipts, and summarises them) and measures the first
// page cold, then again warm (summaries cached for the session).
//
//	go test -run '^$' -bench BenchmarkPortalTimeline -benchtime 5x ./tests/e2e/
//	HEALTHD_BENCH_RECORDS=1000 … (default 3,500)
func BenchmarkPortalTimeline(b *testing.B) {
	records := 3500
	if v := os.Getenv("HEALTHD_BENCH_RECORDS"); v != "" {
		var err error
		if records, err = strconv.Atoi(v); err != nil || records < 1 {
			b.Fatalf("HEALTHD_BENCH_RECORDS=%q", v)
		}
	}
	chromium := findChromium(b)
	n := network.StartNode(b)
	v := network.StartVault(b, n)
	raw, err := fhir.SyntheticBundle(records, 35)
	if err != nil {
		b.Fatal(err)
	}
	bundle := filepath.Join(b.TempDir(), "history.json")
	if err := os.WriteFile(bundle, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	var imported struct {
		Committed []json.RawMessage `json:"committed"`
	}
	n.CLIJSON(&imported, "fhir", "import", bundle, "--vault", v.URL, "--purpose", "PATRQT", "--from", "alice", "--keyring-backend", "test", "--output", "json")
	if len(imported.Committed) != records {
		b.Fatalf("imported %d of %d", len(imported.Committed), records)
	}
	want := fmt.Sprintf("1–50 of %d", records)
	// firstPage clicks sel and resolves, in the page, with the milliseconds
	// until the timeline's range says want (polled every 5 ms)
	firstPage := func(sel string) string {
		return fmt.Sprintf(`new Promise((resolve, reject) => {
			const t0 = performance.now();
			document.querySelector(%q).click();
			const poll = () => {
				const r = document.querySelector("#tl-range");
				if (r && r.textContent.includes(%q)) return resolve(performance.now() - t0);
				if (performance.now() - t0 > 120000) return reject(new Error("no first page after 2 minutes"));
				setTimeout(poll, 5);
			};
			poll();
		})`, sel, want)
	}
	var cold, warm []float64
	b.ResetTimer()
	for range b.N {
		portal := network.StartPortal(b, n, "alice", v.URL)
		tb := startBrowsers(b, chromium, map[string]*network.Portal{"alice": portal})["alice"]
		var c, w float64
		tb.run("first page, cold", chromedp.WaitVisible("#help-done", chromedp.ByQuery), chromedp.Evaluate(firstPage("#help-done"), &c, awaitPromise))
		tb.run("to another tab", chromedp.Click("#tab-sharing", chromedp.ByQuery), chromedp.WaitVisible("#grant-form", chromedp.ByQuery))
		tb.run("first page, warm", chromedp.Evaluate(firstPage("#tab-records"), &w, awaitPromise))
		cold, warm = append(cold, c), append(warm, w)
	}
	b.StopTimer()
	b.ReportMetric(median(cold), "ms-cold")
	b.ReportMetric(median(warm), "ms-warm")
	b.Logf("%d records; first timeline page, cold (new portal): min %.0f / median %.0f / max %.0f ms; warm: min %.0f / median %.0f / max %.0f ms (%d runs)",
		records, minOf(cold), median(cold), maxOf(cold), minOf(warm), median(warm), maxOf(warm), len(cold))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func minOf(xs []float64) float64 { return slices.Min(xs) }
func maxOf(xs []float64) float64 { return slices.Max(xs) }
