package cmd

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
)

// parseID reads a positional id (a record's, a consent's) strictly: decimal
// digits only, at least 1. "12abc" is an error, not record 12.
func parseID(what, arg string) (uint64, error) {
	id, err := strconv.ParseUint(arg, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%s %q is not an id: give its number, e.g. 42", what, arg)
	}
	return id, nil
}

// positiveDuration reads a duration flag that must be above zero.
func positiveDuration(cmd *cobra.Command, name string) (time.Duration, error) {
	d, err := cmd.Flags().GetDuration(name)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, fmt.Errorf("--%s must be positive, e.g. 5m (got %s)", name, d)
	}
	return d, nil
}

// limitFlags reads int64 and duration flags where 0 means "the default" and a
// negative value is an error naming the flag.
func limitFlags(cmd *cobra.Command, ints map[string]*int64, durations map[string]*time.Duration) error {
	for name, dst := range ints {
		v, err := cmd.Flags().GetInt64(name)
		if err != nil {
			return err
		}
		if v < 0 {
			return fmt.Errorf("--%s must not be negative (0 means the default), got %d", name, v)
		}
		*dst = v
	}
	for name, dst := range durations {
		v, err := cmd.Flags().GetDuration(name)
		if err != nil {
			return err
		}
		if v < 0 {
			return fmt.Errorf("--%s must not be negative (0 means the default), got %s", name, v)
		}
		*dst = v
	}
	return nil
}
