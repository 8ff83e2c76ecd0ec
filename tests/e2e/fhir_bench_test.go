package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/testutil/network"
)

// BenchmarkFHIRBundle times `healthd fhir import` and `healthd fhir export` of
// one synthetic patient history (fhir.SyntheticBundle, 3,500 resources unless
// HEALTHD_BENCH_RESOURCES says otherwise) end to end, on a fresh
// one-validator chain and vault for each iteration: the hospital imports it
// for alice under her read/write consent with key grants, then exports it
// back (one receipt per record). It reports resources per second of each, the
// CLI's CPU time for each, and its peak RSS.
//
// HEALTHD_BENCH_BINARIES=name=path,name=path runs the same steps with each
// binary (its node, vault and CLI) in turn, e.g. the build of an earlier
// commit against this one, so before and after are measured in the same run:
//
//	HEALTHD_BENCH_BINARIES=before=/tmp/old/healthd,after=$PWD/build/healthd \
//	  go test -run '^$' -bench FHIRBundle -benchtime 1x -count 3 -timeout 60m ./tests/e2e/
func BenchmarkFHIRBundle(b *testing.B) {
	resources := benchResources(b)
	raw, err := fhir.SyntheticBundle(resources, 1)
	if err != nil {
		b.Fatal(err)
	}
	bundle := filepath.Join(b.TempDir(), "bundle.json")
	if err := os.WriteFile(bundle, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	// HEALTHD_BENCH_VAULT_ARGS: more `vault start` flags, e.g. "--rate-limit 100000
	// --rate-burst 100000" to time a client that sends one request per record
	// without the vault's per-account rate limit in the way.
	vaultArgs := strings.Fields(os.Getenv("HEALTHD_BENCH_VAULT_ARGS"))
	binaries := [][2]string{{"current", ""}}
	if s := os.Getenv("HEALTHD_BENCH_BINARIES"); s != "" {
		binaries = nil
		for _, kv := range strings.Split(s, ",") {
			name, path, ok := strings.Cut(kv, "=")
			if !ok {
				b.Fatalf("HEALTHD_BENCH_BINARIES: %q is not name=path", kv)
			}
			binaries = append(binaries, [2]string{name, path})
		}
	}
	for _, nb := range binaries {
		b.Run(nb[0], func(b *testing.B) {
			bin := nb[1]
			if bin == "" {
				bin = network.Binary(b)
			}
			var importSecs, exportSecs, importCPU, exportCPU float64
			var peakRSS int64
			for range b.N {
				b.StopTimer()
				n := network.StartNodeBinary(b, bin)
				n.CLITimeout = 20 * time.Minute // the baseline exports at 30 records/s
				v := network.StartVault(b, n, vaultArgs...)
				alice := n.Address("alice")
				classes := "other,vital-signs,lab-result,diagnosis,prescription,procedure,immunization,allergy,clinical-note"
				grants := strings.Fields(n.CLI("records", "key-grants", n.Address("hospital"), "--classes", classes,
					"--from", "alice", "--keyring-backend", "test"))
				n.CLI(append([]string{
					"tx", "consent", "grant", n.Address("hospital"), "--classes", classes, "--purposes", "TREAT",
					"--permissions", "read,write", "--expires", "720h", "--from", "alice", "--yes", "--gas", "auto", "--gas-adjustment", "1.5",
				}, grants...)...)
				b.StartTimer()

				var imported struct {
					Committed []json.RawMessage `json:"committed"`
				}
				secs, cpu, rss := timedCLI(b, n, &imported, "fhir", "import", bundle, "--patient", alice, "--vault", v.URL,
					"--from", "hospital", "--keyring-backend", "test", "--output", "json")
				if len(imported.Committed) != resources {
					b.Fatalf("imported %d of %d resources", len(imported.Committed), resources)
				}
				importSecs += secs
				importCPU += cpu
				peakRSS = max(peakRSS, rss)

				var exported struct {
					Exported int `json:"exported"`
				}
				secs, cpu, rss = timedCLI(b, n, &exported, "fhir", "export", "--patient", alice, "--out", filepath.Join(b.TempDir(), "out.json"),
					"--from", "hospital", "--keyring-backend", "test", "--output", "json")
				if exported.Exported != resources {
					b.Fatalf("exported %d of %d resources", exported.Exported, resources)
				}
				exportSecs += secs
				exportCPU += cpu
				peakRSS = max(peakRSS, rss)
				b.StopTimer()
				v.Stop()
				n.Stop()
				b.StartTimer()
			}
			b.ReportMetric(float64(resources*b.N)/importSecs, "import-res/s")
			b.ReportMetric(float64(resources*b.N)/exportSecs, "export-res/s")
			b.ReportMetric(float64(peakRSS)/(1<<20), "cli-peak-MiB")
			b.ReportMetric(importCPU/float64(b.N), "import-cli-cpu-s")
			b.ReportMetric(exportCPU/float64(b.N), "export-cli-cpu-s")
			b.ReportMetric(0, "ns/op") // the wall time of an iteration includes nothing useful beyond the two figures
		})
	}
}

// timedCLI runs a healthd command that must succeed, decodes its JSON output
// into out, and returns its wall time and CPU time (user + system) in
// seconds and its peak RSS in bytes.
func timedCLI(b *testing.B, n *network.Node, out any, args ...string) (float64, float64, int64) {
	b.Helper()
	res := n.Exec(args...)
	if res.ExitCode != 0 {
		b.Fatalf("healthd %s: exit %d\n%s", strings.Join(args, " "), res.ExitCode, res.Stderr)
	}
	if err := json.Unmarshal([]byte(res.Stdout), out); err != nil {
		b.Fatalf("healthd %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, res.Stdout)
	}
	return res.Wall.Seconds(), res.CPU.Seconds(), res.PeakRSS
}

// benchResources is the size of the synthetic patient history of the FHIR
// benchmarks: 3,500 resources unless HEALTHD_BENCH_RESOURCES says otherwise.
func benchResources(b *testing.B) int {
	s := os.Getenv("HEALTHD_BENCH_RESOURCES")
	if s == "" {
		return 3500
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("HEALTHD_BENCH_RESOURCES=%q", s)
	}
	return n
}
