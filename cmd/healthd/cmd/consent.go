package cmd

import (
	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/healthd-chain/healthd/client/agent"
)

// consentCommands are `healthd consent grant|revoke`: the consent lifecycle
// with the class keys handled (AutoCLI's `tx consent grant|revoke` are the raw
// messages, for integrations that wrap keys themselves).
func consentCommands() *cobra.Command {
	cmd := &cobra.Command{Use: "consent", Short: "Grant and revoke consents, with the class keys that go with them"}
	cmd.AddCommand(consentGrantCmd(), consentRevokeCmd())
	return cmd
}

func consentGrantCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grant [grantee]",
		Short: "Let a provider (or another patient) read and/or write some of your data classes, for some purposes, for a time",
		Long: "Grants a consent starting now and, unless --no-keys, wraps your current class key of each --classes to the " +
			"grantee's encryption key as published on chain and puts the grants in the same transaction, so the grantee " +
			"can decrypt (read) and encrypt (write) those classes without you online. A class key opens every record of " +
			"its class up to now: a grantee you let only write can decrypt your earlier records of that class too. " +
			"A live delegate grants with --patient; its consents carry no keys (only the patient holds them).",
		Example: "healthd consent grant health1…lab --classes lab-result,vital-signs --purposes TREAT --permissions read --expires 720h --from alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			duration, err := positiveDuration(cmd, "expires")
			if err != nil {
				return err
			}
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			patient, _ := cmd.Flags().GetString("patient")
			noKeys, _ := cmd.Flags().GetBool("no-keys")
			classes, _ := cmd.Flags().GetStringSlice("classes")
			purposes, _ := cmd.Flags().GetStringSlice("purposes")
			perms, _ := cmd.Flags().GetStringSlice("permissions")
			withKeys := !noKeys && (patient == "" || patient == a.Address())
			id, err := a.Grant(cmd.Context(), agent.GrantRequest{
				Patient: patient, Grantee: args[0], DataClasses: classes, Purposes: purposes, Permissions: perms,
				Duration: duration, WithKeys: withKeys,
			})
			if err != nil {
				return err
			}
			return printJSON(cmd, map[string]any{"consent_id": id, "with_keys": withKeys})
		},
	}
	cmd.Flags().StringSlice("classes", nil, "data classes, comma-separated")
	cmd.Flags().StringSlice("purposes", []string{agent.DefaultPurpose}, "purposes of use (HL7 ActReason), comma-separated")
	cmd.Flags().StringSlice("permissions", []string{"read"}, "read and/or write, comma-separated")
	cmd.Flags().Duration("expires", 0, "how long the consent lasts, e.g. 720h")
	cmd.Flags().String("patient", "", "the patient, when you sign as a delegate (default: yourself)")
	cmd.Flags().Bool("no-keys", false, "grant without class keys (the grantee can then neither decrypt nor encrypt)")
	_ = cmd.MarkFlagRequired("classes")
	_ = cmd.MarkFlagRequired("expires")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

func consentRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke [consent-id]",
		Short: "Revoke a consent and rotate the class keys it carried (new records are closed to the revoked grantee)",
		Long: "Revokes the consent (access stops at once). If you are the patient and it carried key grants, the chain " +
			"moves the class key of each of its data classes to a new epoch; this command, in the same transaction, " +
			"re-issues the new keys to your other live consents that hold those classes, so your other providers keep " +
			"reading and writing. The revoked grantee keeps only the old key: it opens records written before (which it " +
			"may already have downloaded: that cannot be recalled), never the ones written after. A live delegate can " +
			"revoke too; then no key moves (only the patient holds the keys), and the output says keys_not_rotated.",
		Example: "healthd consent revoke 7 --from alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID("consent id", args[0])
			if err != nil {
				return err
			}
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			res, err := a.Revoke(cmd.Context(), id)
			if err != nil {
				return err
			}
			return printJSON(cmd, res)
		},
	}
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}
