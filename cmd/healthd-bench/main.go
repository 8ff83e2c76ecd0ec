// Command healthd-bench is healthd's load generator. It builds a fresh
// one-validator chain from config.yml with thousands of pre-funded accounts
// (registered as patients), signs transactions ahead of time, sends them over
// CometBFT RPC at a ramp of offered rates, and measures from the committed
// blocks: committed tx/s, submit→commit latency (p50/p95/p99), block interval,
// mempool size, node RSS, rejected and failed counts. The scenarios run one
// after the other on the same node, so bank sends and records are compared in
// the same run.
//
//	healthd-bench -scenarios bank-send,create-record -rates 250,500,1000,2000 -duration 10s -out bench-out
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	dbm "github.com/cosmos/cosmos-db"

	"cosmossdk.io/log"

	"github.com/cosmos/cosmos-sdk/codec"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"

	"github.com/healthd-chain/healthd/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "healthd-bench:", err)
		os.Exit(1)
	}
}

// Report is the machine-readable result.
type Report struct {
	Date       string            `json:"date"`
	Machine    string            `json:"machine"`
	Validators int               `json:"validators"`
	Accounts   int               `json:"accounts"`
	Duration   string            `json:"step_duration"`
	AppTOML    string            `json:"app_toml_overrides,omitempty"`
	ConfigTOML string            `json:"config_toml_overrides,omitempty"`
	GoEnv      string            `json:"go_env,omitempty"` // GOGC and GOMEMLIMIT the node(s) ran with
	Gas        map[string]uint64 `json:"gas_limit_per_tx"`
	Steps      []Step            `json:"steps"`
	Saturation map[string]Step   `json:"saturation"`
}

func run() error {
	app.SetSDKConfig()
	binary := flag.String("binary", "build/healthd", "healthd binary")
	configPath := flag.String("config", "config.yml", "chain definition (config.yml)")
	out := flag.String("out", "bench-out", "output folder (results.json, report.md, chart.svg, the node's home and log)")
	scenarioList := flag.String("scenarios", "bank-send,create-record", "scenarios, run in this order on the same node: bank-send, create-record, create-records, grant-consent, access-record, mixed")
	rateList := flag.String("rates", "250,500,1000,1500,2000,3000", "offered rates in tx/s, one step each")
	duration := flag.Duration("duration", 10*time.Second, "sending time of each step")
	accounts := flag.Int("accounts", 4000, "pre-funded accounts")
	batch := flag.Int("batch", 100, "entries per transaction of create-records")
	mempool := flag.Int("mempool", 50000, "CometBFT mempool size (txs)")
	appTOML := flag.String("app-toml", "", "app.toml settings for the node, key=value,… (e.g. iavl-disable-fastnode=true,app-db-backend=pebbledb)")
	configTOML := flag.String("config-toml", "", "CometBFT config.toml settings for the node(s), key=value,… with dotted keys (e.g. mempool.recheck=false,consensus.timeout_commit=500ms)")
	validators := flag.Int("validators", 1, "validators of the chain under test (all on this machine; transactions are spread over their RPC endpoints)")
	pprof := flag.String("pprof", "", "serve the node's Go profiles on this address (e.g. 127.0.0.1:6060) for `go tool pprof`")
	stateSizes := flag.String("state-sizes", "", "instead of the load ramp, run the state-growth benchmark: one fresh chain per size, loaded with that many records and consents by ordinary transactions (e.g. 10000,100000,1000000), then gRPC query latency on each")
	stateQueries := flag.Int("state-queries", 2000, "measured queries of each kind per state size (-state-sizes)")
	flag.Parse()

	var rates []float64
	for _, f := range strings.Split(*rateList, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return fmt.Errorf("-rates: %q", f)
		}
		rates = append(rates, r)
	}
	all := scenarios(*batch)
	var scs []scenario
	for _, name := range strings.Split(*scenarioList, ",") {
		sc, ok := all[strings.TrimSpace(name)]
		if !ok {
			return fmt.Errorf("-scenarios: unknown %q (bank-send, create-record, create-records, grant-consent, access-record, mixed)", name)
		}
		scs = append(scs, sc)
	}
	var over overrides
	var err error
	if over.app, err = parseOverrides(*appTOML); err != nil {
		return fmt.Errorf("-app-toml: %w", err)
	}
	if over.config, err = parseOverrides(*configTOML); err != nil {
		return fmt.Errorf("-config-toml: %w", err)
	}
	for _, k := range reservedConfigKeys {
		if _, ok := over.config[k]; ok {
			return fmt.Errorf("-config-toml: %s is set by the tool (ports, pprof, -mempool)", k)
		}
	}
	bin, err := filepath.Abs(*binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (run make build)", bin, err)
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *stateSizes != "" {
		var sizes []int
		for _, f := range strings.Split(*stateSizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < perPatient {
				return fmt.Errorf("-state-sizes: %q (sizes of at least %d)", f, perPatient)
			}
			sizes = append(sizes, n)
		}
		if *stateQueries < 1 {
			return fmt.Errorf("-state-queries: %d", *stateQueries)
		}
		tmp, err := app.NewHealthApp(log.NewNopLogger(), dbm.NewMemDB(), nil, false, simtestutil.EmptyAppOptions{})
		if err != nil {
			return err
		}
		return runStateGrowth(ctx, bin, *configPath, *out, sizes, *stateQueries, *pprof, *appTOML+" "+*configTOML, over, codec.NewProtoCodec(tmp.InterfaceRegistry()), tmp.TxConfig())
	}

	fmt.Printf("building a chain of %d validator(s) with %d funded accounts in %s …\n", *validators, *accounts, *out)
	accs := newAccounts(*accounts)
	var n *node
	if *validators > 1 {
		n, err = startNetwork(ctx, bin, *configPath, filepath.Join(*out, "network"), *validators, accs, *mempool, over)
	} else {
		n, err = startNode(ctx, bin, *configPath, filepath.Join(*out, "node"), accs, *mempool, *pprof, over, nil, 2*time.Minute)
	}
	if err != nil {
		return err
	}
	defer n.stop()
	tmp, err := app.NewHealthApp(log.NewNopLogger(), dbm.NewMemDB(), nil, false, simtestutil.EmptyAppOptions{})
	if err != nil {
		return err
	}
	txCfg := tmp.TxConfig()
	chainID, err := n.chainID()
	if err != nil {
		return err
	}

	rep := Report{
		Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), Validators: *validators, Accounts: *accounts,
		Duration: duration.String(), AppTOML: *appTOML, ConfigTOML: *configTOML, GoEnv: goEnv(), Gas: map[string]uint64{}, Saturation: map[string]Step{},
	}
	step := 0
	for i := range scs {
		if scs[i].setup != nil {
			fmt.Printf("%s: preparing the chain …\n", scs[i].name)
			if err := scs[i].setup(ctx, n, txCfg, chainID, accs); err != nil {
				return err
			}
		}
		gas, err := estimateGas(n, txCfg, chainID, scs[i], accs[0], accs[1])
		if err != nil {
			return err
		}
		scs[i].gas = gas
		rep.Gas[scs[i].name] = gas
		for _, rate := range rates {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			step++
			fmt.Printf("%-15s offered %6.0f tx/s for %s … ", scs[i].name, rate, duration)
			s, err := measure(n, txCfg, chainID, scs[i], accs, rate, *duration, step)
			if err != nil {
				return err
			}
			fmt.Printf("sent %6.0f tx/s, committed %7.1f tx/s (%7.1f items/s), p50 %.2fs p99 %.2fs, rejected %d, failed %d, not committed %d, mempool ≤%d, RSS %.0f MiB\n",
				s.SentTxs, s.CommittedTxs, s.CommittedItems, s.LatencyP50, s.LatencyP99, s.Rejected, s.FailedInBlock, s.Lost, s.MaxMempool, s.MaxRSSMiB)
			rep.Steps = append(rep.Steps, s)
			if best, ok := rep.Saturation[s.Scenario]; !ok || s.CommittedTxs > best.CommittedTxs {
				rep.Saturation[s.Scenario] = s
			}
		}
	}
	raw, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "results.json"), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "chart.svg"), []byte(chart(rep)), 0o644); err != nil {
		return err
	}
	md := markdown(rep)
	if err := os.WriteFile(filepath.Join(*out, "report.md"), []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Print("\n" + md)
	if len(rep.Steps) == 0 {
		return errors.New("no step ran")
	}
	return nil
}

func machine() string {
	host, _ := os.Hostname()
	cpus := 0
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cpus = strings.Count(string(raw), "processor\t:")
	}
	return fmt.Sprintf("%s, %d CPUs", host, cpus)
}
