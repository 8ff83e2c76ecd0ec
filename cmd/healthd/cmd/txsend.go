package cmd

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/client/tx"

	"github.com/healthd-chain/healthd/client/agent"
)

// txAgent returns the agent of the command's --from account, signing with the
// command's tx flags. Gas is estimated by simulation unless --gas is given.
// Long transfers report progress on stderr.
func txAgent(cmd *cobra.Command) (*agent.Agent, error) {
	clientCtx, err := client.GetClientTxContext(cmd)
	if err != nil {
		return nil, err
	}
	txf, err := tx.NewFactoryCLI(clientCtx, cmd.Flags())
	if err != nil {
		return nil, err
	}
	if !cmd.Flags().Changed(flags.FlagGas) {
		txf = txf.WithSimulateAndExecute(true).WithGasAdjustment(1.5)
	}
	a, err := agent.New(clientCtx, txf)
	if err != nil {
		return nil, err
	}
	a.Progress = func(what string, r io.Reader, total int64) io.Reader { return progress(cmd, what, r, total) }
	return a, nil
}
