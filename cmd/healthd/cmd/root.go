// Package cmd builds the healthd command tree: node commands (init, start, export,
// comet), key management, genesis tools, and the transaction and query commands
// that AutoCLI generates from each module's gRPC services.
package cmd

import (
	"fmt"
	"io"
	"os"

	dbm "github.com/cosmos/cosmos-db"
	"github.com/spf13/cast"
	"github.com/spf13/cobra"

	"cosmossdk.io/log"
	confixcmd "cosmossdk.io/tools/confix/cmd"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/config"
	"github.com/cosmos/cosmos-sdk/client/debug"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/client/pruning"
	"github.com/cosmos/cosmos-sdk/client/rpc"
	"github.com/cosmos/cosmos-sdk/client/snapshot"
	"github.com/cosmos/cosmos-sdk/server"
	servertypes "github.com/cosmos/cosmos-sdk/server/types"
	simtestutil "github.com/cosmos/cosmos-sdk/testutil/sims"
	authcmd "github.com/cosmos/cosmos-sdk/x/auth/client/cli"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	genutilcli "github.com/cosmos/cosmos-sdk/x/genutil/client/cli"

	"github.com/healthd-chain/healthd/app"
)

// NewRootCmd returns the `healthd` root command.
func NewRootCmd() (*cobra.Command, error) {
	app.SetSDKConfig()

	// A throw-away app, never started, supplies the codecs, the module basics and
	// the AutoCLI options that the command tree is built from.
	tempHome, err := os.MkdirTemp("", "healthd-cli-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tempHome)
	tempApp, err := app.NewHealthApp(log.NewNopLogger(), dbm.NewMemDB(), nil, false,
		simtestutil.NewAppOptionsWithFlagHome(tempHome))
	if err != nil {
		return nil, err
	}

	initClientCtx := client.Context{}.
		WithCodec(tempApp.AppCodec()).
		WithInterfaceRegistry(tempApp.InterfaceRegistry()).
		WithTxConfig(tempApp.TxConfig()).
		WithLegacyAmino(tempApp.LegacyAmino()).
		WithInput(os.Stdin).
		WithAccountRetriever(authtypes.AccountRetriever{}).
		WithHomeDir(app.DefaultNodeHome).
		WithViper("HEALTHD")

	rootCmd := &cobra.Command{
		Use:           "healthd",
		Short:         "healthd: a consortium blockchain for patient-controlled health records",
		SilenceUsage:  true,
		SilenceErrors: false,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Commands print to the streams the caller set (tests capture them).
			cmd.SetOut(cmd.OutOrStdout())
			cmd.SetErr(cmd.ErrOrStderr())

			// HEALTHD_HOME stands for --home. The SDK's client context reads the home
			// only from an explicitly set flag, so without this the keyring and
			// client.toml would come from ~/.healthd while the node used HEALTHD_HOME.
			if home := os.Getenv("HEALTHD_HOME"); home != "" && !cmd.Flags().Changed(flags.FlagHome) {
				if err := cmd.Flags().Set(flags.FlagHome, home); err != nil {
					return err
				}
			}
			clientCtx := initClientCtx.WithCmdContext(cmd.Context()).WithOutput(cmd.OutOrStdout())
			clientCtx, err := client.ReadPersistentCommandFlags(clientCtx, cmd.Flags())
			if err != nil {
				return err
			}
			clientCtx, err = config.ReadFromClientConfig(clientCtx)
			if err != nil {
				return err
			}
			if err := client.SetCmdClientContextHandler(clientCtx, cmd); err != nil {
				return err
			}
			appTemplate, appConfig := initAppConfig()
			return server.InterceptConfigsPreRunHandler(cmd, appTemplate, appConfig, initCometBFTConfig())
		},
	}

	txCmd := addCommands(rootCmd, tempApp)

	autoCliOpts := tempApp.AutoCliOpts()
	autoCliOpts.ClientCtx = initClientCtx
	if err := autoCliOpts.EnhanceRootCommand(rootCmd); err != nil {
		return nil, fmt.Errorf("autocli: %w", err)
	}
	failOnRejectedTx(rootCmd, txCmd)
	return rootCmd, nil
}

// addCommands adds the node, genesis, key, query and tx commands; it returns the
// `tx` command, which AutoCLI fills with the modules' messages.
func addCommands(rootCmd *cobra.Command, tempApp *app.HealthApp) *cobra.Command {
	basics := tempApp.BasicModuleManager
	txConfig := tempApp.TxConfig()

	rootCmd.AddCommand(
		initCmd(basics),
		debug.Cmd(),
		confixcmd.ConfigCommand(),
		pruning.Cmd(newApp, app.DefaultNodeHome),
		snapshot.Cmd(newApp),
	)
	server.AddCommandsWithStartCmdOptions(rootCmd, app.DefaultNodeHome, newApp, exportApp, server.StartCmdOptions{})
	txCmd := txCommand()
	rootCmd.AddCommand(
		server.StatusCommand(),
		genutilcli.Commands(txConfig, basics, app.DefaultNodeHome),
		queryCommand(),
		txCmd,
		keysCommand(),
		vaultCommand(),
		recordsCommands(),
		consentCommands(),
		fhirCommands(),
		portalCmd(),
		custodianCommands(),
	)
	return txCmd
}

func queryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:                        "query",
		Aliases:                    []string{"q"},
		Short:                      "Query the chain (modules, blocks, transactions)",
		DisableFlagParsing:         false,
		SuggestionsMinimumDistance: 2,
		RunE:                       client.ValidateCmd,
	}
	cmd.AddCommand(
		rpc.QueryEventForTxCmd(),
		server.QueryBlockCmd(),
		authcmd.QueryTxsByEventsCmd(),
		server.QueryBlocksCmd(),
		authcmd.QueryTxCmd(),
		server.QueryBlockResultsCmd(),
	)
	return cmd
}

func txCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:                        "tx",
		Short:                      "Sign and broadcast transactions",
		DisableFlagParsing:         false,
		SuggestionsMinimumDistance: 2,
		RunE:                       client.ValidateCmd,
	}
	cmd.AddCommand(
		authcmd.GetSignCommand(),
		authcmd.GetSignBatchCommand(),
		authcmd.GetMultiSignCommand(),
		authcmd.GetMultiSignBatchCmd(),
		authcmd.GetValidateSignaturesCommand(),
		authcmd.GetBroadcastCommand(),
		authcmd.GetEncodeCommand(),
		authcmd.GetDecodeCommand(),
		authcmd.GetSimulateCmd(),
	)
	return cmd
}

// newApp builds the application for `healthd start` and the other node commands.
func newApp(logger log.Logger, db dbm.DB, traceStore io.Writer, appOpts servertypes.AppOptions) servertypes.Application {
	a, err := app.NewHealthApp(logger, db, traceStore, true, appOpts, baseappOptions(appOpts)...)
	if err != nil {
		// The SDK's AppCreator signature has no error: report it as a startup failure.
		logger.Error("cannot build the healthd application", "err", err)
		fmt.Fprintln(os.Stderr, "Error: cannot build the healthd application:", err)
		os.Exit(1)
	}
	return a
}

// baseappOptions are the SDK's options from app.toml (pruning, state-sync
// snapshots, minimum gas prices, halt height, mempool, IAVL cache) and
// healthd's: [healthd] optimistic-execution.
func baseappOptions(appOpts servertypes.AppOptions) []func(*baseapp.BaseApp) {
	opts := server.DefaultBaseappOptions(appOpts)
	if cast.ToBool(appOpts.Get("healthd.optimistic-execution")) {
		opts = append(opts, baseapp.SetOptimisticExecution())
	}
	return opts
}

// exportApp exports the state for `healthd export`.
func exportApp(
	logger log.Logger, db dbm.DB, traceStore io.Writer, height int64, forZeroHeight bool,
	jailAllowedAddrs []string, appOpts servertypes.AppOptions, modulesToExport []string,
) (servertypes.ExportedApp, error) {
	loadLatest := height == -1
	a, err := app.NewHealthApp(logger, db, traceStore, loadLatest, appOpts)
	if err != nil {
		return servertypes.ExportedApp{}, err
	}
	if !loadLatest {
		if err := a.LoadHeight(height); err != nil {
			return servertypes.ExportedApp{}, fmt.Errorf("load height %d: %w", height, err)
		}
	}
	return a.ExportAppStateAndValidators(forZeroHeight, jailAllowedAddrs, modulesToExport)
}
