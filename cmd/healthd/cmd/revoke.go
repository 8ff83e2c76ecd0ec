package cmd

import "github.com/spf13/cobra"

// recordsRevokeCmd is `healthd records revoke`, kept for a release as an alias
// of `healthd consent revoke`.
func recordsRevokeCmd() *cobra.Command {
	cmd := consentRevokeCmd()
	deprecated(cmd, "use `healthd consent revoke` (the same command); this alias goes in the next release")
	return cmd
}

// deprecated marks cmd as kept for one more release: a note on stderr (never
// stdout, which scripts parse) and in its help. cobra's own Deprecated field
// would print to stdout and hide the command from the help.
func deprecated(cmd *cobra.Command, note string) {
	cmd.Short = "Deprecated: " + note
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		c.PrintErrln("note: `healthd " + c.Parent().Name() + " " + c.Name() + "` is deprecated: " + note)
		return run(c, args)
	}
}
