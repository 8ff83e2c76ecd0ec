package cmd

import (
	"bytes"
	"testing"
	"text/template"

	"github.com/spf13/viper"

	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/healthd-chain/healthd/app"
)

// The app.toml `healthd init` writes carries healthd's defaults, and
// [healthd] optimistic-execution reaches the SDK's options.
func TestAppConfigDefaults(t *testing.T) {
	tmpl, cfg := initAppConfig()
	var buf bytes.Buffer
	if err := template.Must(template.New("app.toml").Parse(tmpl)).Execute(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(&buf); err != nil {
		t.Fatalf("the rendered app.toml does not parse: %v", err)
	}
	if got := v.GetInt("iavl-cache-size"); got != DefaultIAVLCacheSize {
		t.Errorf("iavl-cache-size %d, want %d", got, DefaultIAVLCacheSize)
	}
	if got := v.GetString("app-db-backend"); got != DefaultAppDBBackend {
		t.Errorf("app-db-backend %q, want %q", got, DefaultAppDBBackend)
	}
	if got := v.GetInt("healthd.verified-tx-cache-size"); got != app.DefaultVerifiedTxCacheSize {
		t.Errorf("healthd.verified-tx-cache-size %d, want %d", got, app.DefaultVerifiedTxCacheSize)
	}
	if !v.IsSet("healthd.optimistic-execution") || v.GetBool("healthd.optimistic-execution") {
		t.Errorf("healthd.optimistic-execution: set %v, value %v; want written and false",
			v.IsSet("healthd.optimistic-execution"), v.GetBool("healthd.optimistic-execution"))
	}

	// each call opens the home's snapshot store, which one process can hold once
	v.Set(flags.FlagChainID, "healthd-test-1")
	v.Set(flags.FlagHome, t.TempDir())
	off := len(baseappOptions(v))
	v.Set(flags.FlagHome, t.TempDir())
	v.Set("healthd.optimistic-execution", true)
	if on := len(baseappOptions(v)); on != off+1 {
		t.Errorf("optimistic-execution = true: %d baseapp options, want %d", on, off+1)
	}
}
