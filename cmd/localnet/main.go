// Command localnet builds a healthd chain from config.yml. With one validator
// (the default) it runs it in the foreground: it is what `make localnet` runs.
// With -validators N it builds an N-validator network on loopback (one home per
// node under -home), which scripts/localnet.sh starts and stops.
//
//	localnet [flags] start   # resume the chain in -home, or build it first if absent (one validator)
//	localnet [flags] init    # only build the home(s)
//	localnet [flags] reset   # delete the home (the whole local chain)
//
// With -reset, start and init delete the home first.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/healthd-chain/healthd/internal/localnet"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "localnet:", err)
		os.Exit(1)
	}
}

func run() error {
	configPath := flag.String("config", "config.yml", "localnet definition (Ignite config.yml format)")
	home := flag.String("home", ".localnet", "node home of the local chain")
	binary := flag.String("binary", "build/healthd", "healthd binary")
	reset := flag.Bool("reset", false, "delete the home first (start over from config.yml)")
	validators := flag.Int("validators", 1, "number of validators; above 1, init builds a network for scripts/localnet.sh")
	snapshots := flag.Int("snapshot-interval", 0, "state-sync snapshot interval in blocks for a network (0: config.yml's)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: localnet [flags] start|init|reset\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		return errors.New("one command expected: start, init or reset")
	}

	cmd := flag.Arg(0)
	if cmd == "reset" || *reset {
		if err := os.RemoveAll(*home); err != nil {
			return err
		}
		fmt.Printf("removed %s\n", *home)
		if cmd == "reset" {
			return nil
		}
	}
	if cmd != "start" && cmd != "init" {
		return fmt.Errorf("unknown command %q: want start, init or reset", cmd)
	}

	cfg, err := localnet.Load(*configPath)
	if err != nil {
		return err
	}
	bin, err := filepath.Abs(*binary)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("healthd binary: %w (run `make build`)", err)
	}

	if *validators > 1 {
		return initNetwork(cfg, bin, *home, cmd, *validators, *snapshots)
	}

	marker, err := localnet.ReadMarker(*home)
	switch {
	case err == nil:
		fmt.Printf("resuming the local chain %s in %s (`make localnet-reset` starts over)\n", marker.ChainID, *home)
		if marker.ConfigDigest != cfg.Digest() {
			fmt.Printf("note: %s changed since this chain was created; `make localnet-reset` applies it (and deletes the local chain)\n", *configPath)
		}
	case errors.Is(err, os.ErrNotExist):
		if entries, rerr := os.ReadDir(*home); rerr == nil && len(entries) > 0 {
			return fmt.Errorf("%s exists but was not completely built by localnet (interrupted?); "+
				"run `make localnet-reset` to delete it and start over", *home)
		}
		fmt.Printf("building a new local chain %s in %s from %s\n", cfg.ChainID(), *home, *configPath)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		// CometBFT's and healthd's chain metrics at http://127.0.0.1:26660/metrics
		// (docs/operations.md, "Metrics")
		metricsCfg := map[string]any{"instrumentation": map[string]any{"prometheus": true, "prometheus_listen_addr": "127.0.0.1:26660"}}
		if err := localnet.Init(ctx, cfg, localnet.Options{Binary: bin, Home: *home, Config: metricsCfg}); err != nil {
			return err
		}
	default:
		return err
	}
	if cmd == "init" {
		return nil
	}

	if err := printBanner(bin, *home, cfg); err != nil {
		return err
	}
	// Replace this process with the node, so that Ctrl-C and signals reach it
	// directly and it stops cleanly.
	return syscall.Exec(bin, []string{bin, "start", "--home", *home}, os.Environ())
}

// initNetwork builds (if absent) an n-validator network in dir and prints its
// nodes. Starting it is scripts/localnet.sh's job.
func initNetwork(cfg *localnet.Config, bin, dir, cmd string, n, snapshotInterval int) error {
	if cmd != "init" {
		return errors.New("a network of several validators runs in the background: use scripts/localnet.sh start (make localnet-4)")
	}
	net, err := localnet.ReadNetwork(dir)
	switch {
	case err == nil:
		if len(net.Nodes) != n {
			return fmt.Errorf("%s holds a %d-validator network; reset it to build %d", dir, len(net.Nodes), n)
		}
		fmt.Printf("the %d-validator network %s in %s exists\n", n, net.ChainID, dir)
	case errors.Is(err, os.ErrNotExist):
		if entries, rerr := os.ReadDir(dir); rerr == nil && len(entries) > 0 {
			return fmt.Errorf("%s exists but was not completely built (interrupted?); reset it and start over", dir)
		}
		fmt.Printf("building a %d-validator network %s in %s from config.yml\n", n, cfg.ChainID(), dir)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		nodes, err := localnet.InitNetwork(ctx, cfg, localnet.NetworkOptions{
			Binary: bin, Dir: dir, Validators: n, SnapshotInterval: snapshotInterval,
		})
		if err != nil {
			return err
		}
		net.Nodes = nodes
	default:
		return err
	}
	for i, node := range net.Nodes {
		fmt.Printf("  node%d %-11s rpc http://127.0.0.1:%d  rest http://127.0.0.1:%d  grpc 127.0.0.1:%d  metrics http://127.0.0.1:%d/metrics\n",
			i, node.Name, node.Ports.RPC, node.Ports.API, node.Ports.GRPC, node.Ports.Prometheus)
	}
	return nil
}

// printBanner prints the endpoints and demo accounts of the local chain.
func printBanner(bin, home string, cfg *localnet.Config) error {
	out, err := exec.Command(bin, "keys", "list", "--home", home,
		"--keyring-backend", localnet.KeyringBackend, "--output", "json").Output()
	if err != nil {
		return fmt.Errorf("list demo keys: %w", err)
	}
	var keys []struct{ Name, Address string }
	if err := json.Unmarshal(out, &keys); err != nil {
		return fmt.Errorf("list demo keys: %w", err)
	}
	addr := map[string]string{}
	for _, k := range keys {
		addr[k.Name] = k.Address
	}
	v := cfg.Validator()
	fmt.Printf(`
healthd localnet — chain %s, home %s
  CometBFT RPC  %s
  gRPC          %s   (reflection on: grpcurl -plaintext %s list)
  REST API      %s   (OpenAPI: /openapi.json, UI: /swagger/)

demo accounts (test keyring in the home; use --home %s):
`, cfg.ChainID(), home,
		httpURL(setting(v.Config, "tcp://127.0.0.1:26657", "rpc", "laddr")),
		setting(v.App, "127.0.0.1:9090", "grpc", "address"),
		setting(v.App, "127.0.0.1:9090", "grpc", "address"),
		httpURL(setting(v.App, "tcp://127.0.0.1:1317", "api", "address")),
		home)
	for _, a := range cfg.Accounts {
		fmt.Printf("  %-10s %s\n", a.Name, addr[a.Name])
	}
	fmt.Printf("\nexample: build/healthd --home %[1]s tx bank send alice $(build/healthd --home %[1]s keys show bob -a) 1000uhealth --yes\n\n", home)
	return nil
}

// httpURL shows a tcp:// listen address as the http:// URL clients use.
func httpURL(addr string) string {
	return "http://" + strings.TrimPrefix(addr, "tcp://")
}

// setting returns a string setting from nested overrides, or def.
func setting(m map[string]any, def string, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return def
		}
		cur = mm[p]
	}
	if s, ok := cur.(string); ok {
		return s
	}
	return def
}
