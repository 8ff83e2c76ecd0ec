package cmd

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"
)

// custodianCommands are `healthd custodian start`: a custodian's daemon.
func custodianCommands() *cobra.Command {
	cmd := &cobra.Command{Use: "custodian", Short: "Run an emergency key custodian (issue #17, docs/architecture.md)"}
	cmd.AddCommand(custodianStartCmd())
	return cmd
}

func custodianStartCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Release this custodian's key shares to providers with a live emergency access, automatically and on chain",
		Long: "Runs beside a custodian's node with the custodian's key (--from). Every --interval it lists the live " +
			"emergency (break-glass) accesses and, for each whose patient escrowed keys with the current custodian set, " +
			"opens its own shares and seals them to the emergency provider's published encryption key in a " +
			"transaction the chain accepts only while that access is live, from a listed custodian, once. Every release " +
			"is an event and is listed in the patient's access log. It never releases to itself. Logs (JSON on stderr) " +
			"name emergency access ids, never patients or content. SIGINT/SIGTERM stop it.",
		Example: "healthd custodian start --from custodian1",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			interval, err := positiveDuration(cmd, "interval")
			if err != nil {
				return err
			}
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log.Info("custodian started", "custodian", a.Address(), "interval", interval.String())
			err = a.ServeCustodian(ctx, interval, log)
			log.Info("custodian stopped")
			return err
		},
	}
	cmd.Flags().Duration("interval", 2*time.Second, "how often to look for new emergency accesses")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}
