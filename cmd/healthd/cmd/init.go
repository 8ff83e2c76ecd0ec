package cmd

import (
	"fmt"
	"path/filepath"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/server"
	"github.com/cosmos/cosmos-sdk/types/module"
	genutilcli "github.com/cosmos/cosmos-sdk/x/genutil/client/cli"
	genutiltypes "github.com/cosmos/cosmos-sdk/x/genutil/types"

	"github.com/healthd-chain/healthd/app"
)

// initCmd is the SDK's `init`, followed by healthd's defaults: finite block size
// and gas in the new genesis file (app.SetConsensusDefaults) and a 1 s
// timeout_commit in config.toml (DefaultTimeoutCommit).
func initCmd(basics module.BasicManager) *cobra.Command {
	cmd := genutilcli.InitCmd(basics, app.DefaultNodeHome)
	sdkRun := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := sdkRun(cmd, args); err != nil {
			return err
		}
		home, err := cmd.Flags().GetString(flags.FlagHome)
		if err != nil {
			return err
		}
		genFile := filepath.Join(home, "config", "genesis.json")
		appGenesis, err := genutiltypes.AppGenesisFromFile(genFile)
		if err != nil {
			return fmt.Errorf("read %s: %w", genFile, err)
		}
		app.SetConsensusDefaults(appGenesis.Consensus.Params)
		if err := appGenesis.SaveAs(genFile); err != nil {
			return err
		}

		cmtConfig := server.GetServerContextFromCmd(cmd).Config
		cmtConfig.SetRoot(home)
		cmtConfig.Consensus.TimeoutCommit = DefaultTimeoutCommit
		cmtcfg.WriteConfigFile(filepath.Join(home, "config", "config.toml"), cmtConfig)
		return nil
	}
	return cmd
}
