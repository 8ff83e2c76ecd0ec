// Package localnet reads the localnet definition (config.yml, in Ignite CLI's
// format) and turns it into a ready-to-start node home by driving the healthd
// binary: init, keys, genesis accounts, gentx, and the overrides of genesis.json,
// config.toml, app.toml and client.toml. `make localnet` and the end-to-end test
// harness both use it, so there is one reader of that format.
package localnet

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"

	"github.com/cosmos/go-bip39"
	"gopkg.in/yaml.v3"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// Config is the subset of Ignite's config.yml that healthd's localnet supports.
// Unknown keys are an error, so that a typo or an unsupported Ignite feature is
// reported rather than silently ignored.
type Config struct {
	// Version of the format; only 1 exists.
	Version int `yaml:"version"`
	// Build says how Ignite would build the binary; informative here (the
	// Makefile builds it).
	Build Build `yaml:"build"`
	// Accounts funded at genesis; those with a mnemonic get a key in the node's
	// test keyring.
	Accounts []Account `yaml:"accounts"`
	// Validators of the chain; the localnet runs exactly one.
	Validators []Validator `yaml:"validators"`
	// Genesis is merged over the genesis.json that `healthd init` writes; its
	// chain_id names the chain.
	Genesis map[string]any `yaml:"genesis"`

	// sha256 of the file it was read from (to tell whether it changed since a
	// localnet was made from it).
	digest string
}

// Build is Ignite's build section.
type Build struct {
	Main   string `yaml:"main"`
	Binary string `yaml:"binary"`
}

// Account is a genesis account.
type Account struct {
	Name     string   `yaml:"name"`
	Coins    []string `yaml:"coins"`
	Mnemonic string   `yaml:"mnemonic"`
	// Address funds an account that has no key here (instead of Mnemonic).
	Address string `yaml:"address"`
}

// Validator is a genesis validator and its node's configuration overrides.
type Validator struct {
	// Name of the account (in Accounts) that operates the validator.
	Name string `yaml:"name"`
	// Bonded is the self-delegation of the gentx, e.g. "500000000uhealth".
	Bonded string `yaml:"bonded"`
	// App, Config and Client override app.toml, config.toml and client.toml.
	App    map[string]any `yaml:"app"`
	Config map[string]any `yaml:"config"`
	Client map[string]any `yaml:"client"`
}

var accountName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Load reads and validates a config.yml.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes and validates config.yml content.
func Parse(raw []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	cfg.digest = hex.EncodeToString(sum[:])
	return &cfg, nil
}

// Digest is the sha256 (hex) of the config file content.
func (c *Config) Digest() string { return c.digest }

// ChainID returns genesis.chain_id.
func (c *Config) ChainID() string {
	id, _ := c.Genesis["chain_id"].(string)
	return id
}

// Validator returns the single validator of the localnet.
func (c *Config) Validator() Validator { return c.Validators[0] }

// Validate checks the config for everything that would otherwise fail halfway
// through building a node home.
func (c *Config) Validate() error {
	if c.Version != 1 {
		return fmt.Errorf("version: must be 1, got %d", c.Version)
	}
	if c.ChainID() == "" {
		return errors.New("genesis.chain_id: required (a string such as healthd-local-1)")
	}
	if len(c.Accounts) == 0 {
		return errors.New("accounts: at least one is required")
	}
	byName := make(map[string]Account, len(c.Accounts))
	for i, a := range c.Accounts {
		where := fmt.Sprintf("accounts[%d]", i)
		if !accountName.MatchString(a.Name) {
			return fmt.Errorf("%s.name %q: use 1-32 lower-case letters, digits, - or _, starting with a letter", where, a.Name)
		}
		if _, dup := byName[a.Name]; dup {
			return fmt.Errorf("%s.name %q: duplicate account name", where, a.Name)
		}
		byName[a.Name] = a
		switch {
		case a.Mnemonic != "" && a.Address != "":
			return fmt.Errorf("%s (%s): set mnemonic or address, not both", where, a.Name)
		case a.Mnemonic == "" && a.Address == "":
			return fmt.Errorf("%s (%s): a mnemonic or an address is required", where, a.Name)
		case a.Mnemonic != "":
			// MnemonicToByteArray checks the words and the checksum (IsMnemonicValid
			// checks only the words).
			if _, err := bip39.MnemonicToByteArray(a.Mnemonic); err != nil {
				return fmt.Errorf("%s (%s): mnemonic is not a valid BIP-39 mnemonic: %w", where, a.Name, err)
			}
		}
		if _, err := a.ParsedCoins(); err != nil {
			return fmt.Errorf("%s (%s).coins: %w", where, a.Name, err)
		}
	}
	if len(c.Validators) != 1 {
		return fmt.Errorf("validators: the localnet runs exactly one validator, got %d", len(c.Validators))
	}
	v := c.Validators[0]
	acc, ok := byName[v.Name]
	if !ok {
		return fmt.Errorf("validators[0].name %q: no account of that name", v.Name)
	}
	if acc.Mnemonic == "" {
		return fmt.Errorf("validators[0].name %q: the validator's account needs a mnemonic (it signs the gentx)", v.Name)
	}
	bonded, err := sdk.ParseCoinNormalized(v.Bonded)
	if err != nil {
		return fmt.Errorf("validators[0].bonded %q: %w", v.Bonded, err)
	}
	coins, _ := acc.ParsedCoins()
	if !bonded.IsPositive() || coins.AmountOf(bonded.Denom).LT(bonded.Amount) {
		return fmt.Errorf("validators[0].bonded %s: must be positive and at most the account's %s",
			bonded, coins.AmountOf(bonded.Denom).String()+bonded.Denom)
	}
	return nil
}

// ParsedCoins returns the account's coins.
func (a Account) ParsedCoins() (sdk.Coins, error) {
	var all sdk.Coins
	for _, s := range a.Coins {
		c, err := sdk.ParseCoinsNormalized(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		all = all.Add(c...)
	}
	if all.Empty() {
		return nil, errors.New("at least one positive coin amount is required")
	}
	return all, nil
}
