package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// maxCapturedOutput bounds how much of a tx command's output is kept to find its
// result code. A broadcast result is a few kilobytes.
const maxCapturedOutput = 1 << 20

// failOnRejectedTx makes every `healthd tx …` command exit non-zero when the node
// answers the broadcast with a non-zero result code (for example insufficient
// funds, an unknown denom, a wrong sequence). The SDK prints such a result but
// exits 0, so a script could not tell a rejected transaction from an accepted one.
func failOnRejectedTx(rootCmd *cobra.Command) {
	prevPre := rootCmd.PersistentPreRunE
	var captured *cappedBuffer

	rootCmd.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if isTxCommand(cmd) {
			captured = &cappedBuffer{limit: maxCapturedOutput}
			cmd.SetOut(io.MultiWriter(cmd.OutOrStdout(), captured))
		}
		return prevPre(cmd, args)
	}
	rootCmd.PersistentPostRunE = func(cmd *cobra.Command, _ []string) error {
		if captured == nil || !isTxCommand(cmd) {
			return nil
		}
		return rejectedTxError(captured.Bytes())
	}
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
	TxHash    string  `json:"txhash"`
	Code      *uint32 `json:"code"`
	Codespace string  `json:"codespace"`
	RawLog    string  `json:"raw_log"`
}

var (
	yamlCode      = regexp.MustCompile(`(?m)^code: (\d+)\s*$`)
	yamlCodespace = regexp.MustCompile(`(?m)^codespace: (\S*)\s*$`)
	yamlRawLog    = regexp.MustCompile(`(?m)^raw_log: (.*)$`)
)

// rejectedTxError returns an error if out is a broadcast result with a non-zero
// code, and nil for anything else (an accepted tx, or output that is not a
// broadcast result, such as an unsigned tx from --generate-only).
func rejectedTxError(out []byte) error {
	out = bytes.TrimSpace(out)
	if len(out) == 0 {
		return nil
	}
	var res txResult
	if out[0] == '{' {
		if err := json.Unmarshal(out, &res); err != nil || res.Code == nil {
			return nil
		}
	} else {
		m := yamlCode.FindSubmatch(out)
		if m == nil {
			return nil
		}
		code, err := strconv.ParseUint(string(m[1]), 10, 32)
		if err != nil {
			return nil
		}
		c := uint32(code)
		res.Code = &c
		if m := yamlCodespace.FindSubmatch(out); m != nil {
			res.Codespace = string(m[1])
		}
		if m := yamlRawLog.FindSubmatch(out); m != nil {
			res.RawLog = strings.Trim(string(m[1]), `'"`)
		}
	}
	if *res.Code == 0 {
		return nil
	}
	return fmt.Errorf("transaction rejected (code %d, codespace %q): %s", *res.Code, res.Codespace, res.RawLog)
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
