// Command healthd is the healthd node and client: it runs a validator or full node
// (`healthd start`), manages keys, builds genesis files, and signs and sends
// transactions and queries (`healthd tx`, `healthd query`).
package main

import (
	"fmt"
	"os"

	svrcmd "github.com/cosmos/cosmos-sdk/server/cmd"

	"github.com/healthd-chain/healthd/app"
	"github.com/healthd-chain/healthd/cmd/healthd/cmd"
)

func main() {
	rootCmd, err := cmd.NewRootCmd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	if err := svrcmd.Execute(rootCmd, "HEALTHD", app.DefaultNodeHome); err != nil {
		// Cobra has already printed the error; only the exit code is left to set.
		os.Exit(1)
	}
}
