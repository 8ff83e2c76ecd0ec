package cmd

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/healthd-chain/healthd/client/agent"
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
			"transaction the chain accepts only while that access is live and its provider active, from a listed " +
			"custodian, once. Every release is an event and is listed in the patient's access log. It never releases to " +
			"itself, and at most --max-per-provider-hour to one provider in an hour (a provider key breaking the glass " +
			"for many patients at once waits for the consortium's review). Logs (JSON on stderr) name emergency access " +
			"ids, never content; the chain's refusals they quote may name accounts. SIGINT/SIGTERM stop it.",
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
			budget, _ := cmd.Flags().GetInt("max-per-provider-hour")
			if budget < 0 {
				return fmt.Errorf("--max-per-provider-hour %d: want 0 (no bound) or more", budget)
			}
			err = a.ServeCustodian(ctx, agent.CustodianOptions{Interval: interval, MaxPerProviderHour: budget}, log)
			log.Info("custodian stopped")
			return err
		},
	}
	cmd.Flags().Duration("interval", 2*time.Second, "how often to look for new emergency accesses")
	cmd.Flags().Int("max-per-provider-hour", 20, "releases to one provider in an hour at most (0: no bound)")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}
