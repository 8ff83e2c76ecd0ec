package cmd

import (
	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"
)

func recordsRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke [consent-id]",
		Short: "Revoke a consent and rotate the class keys it carried (new records are closed to the revoked grantee)",
		Long: "Revokes the consent (access stops at once). If it carried key grants, the chain moves the class key of each " +
			"of its data classes to a new epoch; this command, in the same transaction, re-issues the new keys to your " +
			"other live consents that hold those classes, so your other providers keep reading and writing. The revoked " +
			"grantee keeps only the old key: it opens records written before (which it may already have downloaded: " +
			"that cannot be recalled), never the ones written after. Only the patient can do this (a delegate's " +
			"`tx consent revoke` rotates the epochs but cannot re-issue keys).",
		Example: "healthd records revoke 7 --from alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			id, err := parseID("consent id", args[0])
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
