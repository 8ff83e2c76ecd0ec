package localnet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// KeyringBackend is the keyring of localnet homes: unencrypted, on disk, for test
// keys only.
const KeyringBackend = "test"

// markerFile records that a home was completely built, and from which config.
const markerFile = "localnet.json"

// Marker is the content of the marker file.
type Marker struct {
	ChainID      string `json:"chain_id"`
	ConfigDigest string `json:"config_sha256"`
}

// Options say where and how to build a node home.
type Options struct {
	// Binary is the healthd binary to drive.
	Binary string
	// Home is the node home to create. It must not exist, or be empty.
	Home string
	// Moniker of the node; the validator's name if empty.
	Moniker string
	// App, Config and Client are applied after the config's own validator
	// overrides (the test harness uses them to give each node free ports).
	App, Config, Client map[string]any
}

// Init builds a ready-to-start node home from cfg: keys for every account with a
// mnemonic, genesis accounts, the validator's gentx, genesis and TOML overrides.
// It refuses to touch a home that already has content.
func Init(ctx context.Context, cfg *Config, opts Options) error {
	if entries, err := os.ReadDir(opts.Home); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s already exists and is not empty; remove it first to build a new localnet there", opts.Home)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	val := cfg.Validator()
	moniker := opts.Moniker
	if moniker == "" {
		moniker = val.Name
	}
	run := runner{ctx: ctx, binary: opts.Binary, home: opts.Home}

	if _, err := run.do(nil, "init", moniker, "--chain-id", cfg.ChainID()); err != nil {
		return err
	}
	for _, acc := range cfg.Accounts {
		ref := acc.Address
		if acc.Mnemonic != "" {
			if _, err := run.do([]byte(acc.Mnemonic+"\n"), "keys", "add", acc.Name, "--recover",
				"--keyring-backend", KeyringBackend); err != nil {
				return err
			}
			ref = acc.Name
		}
		coins, _ := acc.ParsedCoins()
		if _, err := run.do(nil, "genesis", "add-genesis-account", ref, coins.String(),
			"--keyring-backend", KeyringBackend); err != nil {
			return err
		}
	}
	if _, err := run.do(nil, "genesis", "gentx", val.Name, val.Bonded, "--chain-id", cfg.ChainID(),
		"--moniker", moniker, "--keyring-backend", KeyringBackend); err != nil {
		return err
	}
	if _, err := run.do(nil, "genesis", "collect-gentxs"); err != nil {
		return err
	}

	genFile := filepath.Join(opts.Home, "config", "genesis.json")
	if err := MergeGenesis(genFile, cfg.Genesis); err != nil {
		return fmt.Errorf("genesis overrides: %w", err)
	}
	// the genesis validator is, by definition, approved by the consortium
	operator, err := run.do(nil, "keys", "show", val.Name, "-a", "--keyring-backend", KeyringBackend)
	if err != nil {
		return err
	}
	if err := ApproveValidatorOperators(genFile, []string{strings.TrimSpace(string(operator))}); err != nil {
		return err
	}
	if _, err := run.do(nil, "genesis", "validate"); err != nil {
		return err
	}

	client := map[string]any{"chain-id": cfg.ChainID(), "keyring-backend": KeyringBackend}
	for _, f := range []struct {
		file   string
		layers []map[string]any
	}{
		{"app.toml", []map[string]any{val.App, opts.App}},
		{"config.toml", []map[string]any{val.Config, opts.Config}},
		{"client.toml", []map[string]any{client, val.Client, opts.Client}},
	} {
		path := filepath.Join(opts.Home, "config", f.file)
		for _, layer := range f.layers {
			if err := EditTOML(path, layer); err != nil {
				return fmt.Errorf("%s overrides: %w", f.file, err)
			}
		}
	}

	marker, err := json.MarshalIndent(Marker{ChainID: cfg.ChainID(), ConfigDigest: cfg.Digest()}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(opts.Home, markerFile), marker, 0o644)
}

// ReadMarker returns the marker of a completely built home, or an error wrapping
// os.ErrNotExist if the home was never (completely) built.
func ReadMarker(home string) (Marker, error) {
	var m Marker
	raw, err := os.ReadFile(filepath.Join(home, markerFile))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("%s: %w", markerFile, err)
	}
	return m, nil
}

// runner runs healthd subcommands against one home.
type runner struct {
	ctx    context.Context
	binary string
	home   string
}

// do runs `healthd ARGS --home HOME` with stdin, and returns its stdout. A failure
// reports the command and its stderr.
func (r runner) do(stdin []byte, args ...string) ([]byte, error) {
	args = append(args, "--home", r.home)
	cmd := exec.CommandContext(r.ctx, r.binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("healthd %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
