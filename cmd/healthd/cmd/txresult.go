package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"

	"github.com/healthd-chain/healthd/client/agent"
)

// maxCapturedOutput bounds how much of a tx command's output is kept to find its
// result code. A broadcast result is a few kilobytes.
const maxCapturedOutput = 1 << 20

// Flags of every `healthd tx` command.
const (
	flagWaitCommit    = "wait-commit"
	flagCommitTimeout = "commit-timeout"
)

// failOnRejectedTx makes every `healthd tx …` command report the fate of its
// transaction through its exit code:
//   - an empty positional argument (an empty key name, say) is refused before
//     anything is signed;
//   - a broadcast answered with a non-zero code (bad signature, insufficient fee)
//     exits 1 with the node's log;
//   - by default the command then waits until the transaction is in a block and
//     exits 1 if the block rejected it. CheckTx runs only the ante handler, so a
//     message that fails on execution (insufficient funds, an unknown denom) is
//     accepted by the mempool and fails later: without waiting, a script would
//     see success.
//
// The SDK prints such results but exits 0.
func failOnRejectedTx(rootCmd *cobra.Command, txCmd *cobra.Command) {
	txCmd.PersistentFlags().Bool(flagWaitCommit, true,
		"after broadcasting, wait until the transaction is in a block and fail if it was rejected there")
	txCmd.PersistentFlags().Duration(flagCommitTimeout, 30*time.Second,
		"how long --wait-commit waits for the transaction to be committed")

	prevPre := rootCmd.PersistentPreRunE
	var captured *cappedBuffer

	rootCmd.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if isTxCommand(cmd) {
			for i, a := range args {
				if strings.TrimSpace(a) == "" {
					return fmt.Errorf("argument %d (%s) is empty", i+1, argName(cmd, i))
				}
			}
			captured = &cappedBuffer{limit: maxCapturedOutput}
			cmd.SetOut(io.MultiWriter(cmd.OutOrStdout(), captured))
		}
		return prevPre(cmd, args)
	}
	rootCmd.PersistentPostRunE = func(cmd *cobra.Command, _ []string) error {
		if captured == nil || !isTxCommand(cmd) {
			return nil
		}
		res, ok := parseTxResult(captured.Bytes())
		if !ok {
			return nil // not a broadcast result (e.g. --generate-only)
		}
		if res.Code != 0 {
			return fmt.Errorf("transaction rejected (code %d, codespace %q): %s", res.Code, res.Codespace, res.RawLog)
		}
		wait, _ := cmd.Flags().GetBool(flagWaitCommit)
		if !wait || res.TxHash == "" || (res.Height != "" && res.Height != "0") {
			return nil
		}
		timeout, _ := cmd.Flags().GetDuration(flagCommitTimeout)
		clientCtx, err := client.GetClientQueryContext(cmd)
		if err != nil {
			return err
		}
		return waitForCommit(cmd.Context(), clientCtx, res.TxHash, timeout)
	}
}

// waitForCommit polls the node until the transaction is in a block, and returns an
// error if it is not committed in time or failed on execution.
func waitForCommit(ctx context.Context, clientCtx client.Context, hash string, timeout time.Duration) error {
	_, err := agent.WaitForTx(ctx, clientCtx, hash, timeout)
	return err
}

// argName returns the name of the i-th positional argument from the command's
// usage line ("send [from_key_or_address] [to_address] [amount]").
func argName(cmd *cobra.Command, i int) string {
	fields := strings.Fields(cmd.Use)
	if i+1 < len(fields) {
		return strings.Trim(fields[i+1], "[]<>")
	}
	return "argument"
}

func isTxCommand(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Name() == "tx" && c.Parent() != nil && c.Parent().Parent() == nil {
			return true
		}
	}
	return false
}

// txResult is the part of a broadcast result (sdk.TxResponse) that tells whether
// the transaction was accepted.
type txResult struct {
	TxHash    string
	Height    string
	Code      uint32
	Codespace string
	RawLog    string
}

var (
	yamlCode      = regexp.MustCompile(`(?m)^code: (\d+)\s*$`)
	yamlTxHash    = regexp.MustCompile(`(?m)^txhash: (\S+)\s*$`)
	yamlHeight    = regexp.MustCompile(`(?m)^height: "?(\d+)"?\s*$`)
	yamlCodespace = regexp.MustCompile(`(?m)^codespace: (\S*)\s*$`)
	yamlRawLog    = regexp.MustCompile(`(?m)^raw_log: (.*)$`)
)

// parseTxResult reads a broadcast result printed as JSON or YAML (--output). It
// returns false for output that is not a broadcast result, such as an unsigned
// transaction from --generate-only.
func parseTxResult(out []byte) (txResult, bool) {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return txResult{}, false
	}
	if out[0] == '{' {
		var res struct {
			TxHash    string  `json:"txhash"`
			Height    string  `json:"height"`
			Code      *uint32 `json:"code"`
			Codespace string  `json:"codespace"`
			RawLog    string  `json:"raw_log"`
		}
		if err := json.Unmarshal(out, &res); err != nil || res.Code == nil || res.TxHash == "" {
			return txResult{}, false
		}
		return txResult{TxHash: res.TxHash, Height: res.Height, Code: *res.Code, Codespace: res.Codespace, RawLog: res.RawLog}, true
	}
	m := yamlCode.FindSubmatch(out)
	h := yamlTxHash.FindSubmatch(out)
	if m == nil || h == nil {
		return txResult{}, false
	}
	code, err := strconv.ParseUint(string(m[1]), 10, 32)
	if err != nil {
		return txResult{}, false
	}
	res := txResult{TxHash: string(h[1]), Code: uint32(code)}
	if m := yamlHeight.FindSubmatch(out); m != nil {
		res.Height = string(m[1])
	}
	if m := yamlCodespace.FindSubmatch(out); m != nil {
		res.Codespace = string(m[1])
	}
	if m := yamlRawLog.FindSubmatch(out); m != nil {
		res.RawLog = strings.Trim(string(m[1]), `'"`)
	}
	return res, true
}

// cappedBuffer keeps at most limit bytes of what is written to it and never fails
// a write, so that capturing cannot break the command's real output.
type cappedBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

// Bytes returns what was captured.
func (b *cappedBuffer) Bytes() []byte { return b.buf.Bytes() }
