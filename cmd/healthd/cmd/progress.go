package cmd

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/healthd-chain/healthd/client/agent"
)

// bulkProgress reports the steps of a bulk import or export on stderr: a
// progress bar per step (count, rate, time left) on a terminal, otherwise a
// plain line per step at most every 2 seconds and at its end, so logs of a
// script stay readable.
func bulkProgress(cmd *cobra.Command) agent.Progress { return bulkProgressUnit(cmd, "res") }

// bulkProgressUnit is bulkProgress counting unit ("res", "blobs").
func bulkProgressUnit(cmd *cobra.Command, unit string) agent.Progress {
	out := cmd.ErrOrStderr()
	f, isFile := out.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	var mu sync.Mutex
	var bar *progressbar.ProgressBar
	step := ""
	last := map[string]time.Time{} // when each step was last reported (steps overlap)
	return func(s string, done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if !tty {
			if t, seen := last[s]; !seen || done == total || time.Since(t) >= 2*time.Second {
				cmd.PrintErrf("%s: %d of %d\n", s, done, total)
				last[s] = time.Now()
			}
			return
		}
		if s != step || bar == nil {
			if bar != nil {
				_ = bar.Finish()
			}
			step = s
			bar = newBar(out, s, unit, total)
		}
		_ = bar.Set(done)
	}
}

func newBar(out io.Writer, step, unit string, total int) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription(step),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(out, "\n") }),
	)
}
