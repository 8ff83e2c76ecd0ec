package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/healthd-chain/healthd/client/agent"
)

// consentCommands are `healthd consent grant|revoke`: the consent lifecycle
// with the class keys handled (AutoCLI's `tx consent grant|revoke` are the raw
// messages, for integrations that wrap keys themselves).
func consentCommands() *cobra.Command {
	cmd := &cobra.Command{Use: "consent", Short: "Grant and revoke consents, with the class keys that go with them"}
	cmd.AddCommand(consentRegisterCmd(), consentGrantCmd(), consentRevokeCmd(), consentEscrowCmd(), consentRotateCmd())
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
			out := rotationOutput{RevokeResult: res}
			// A rotated class whose key is escrowed: escrow the new key, so an
			// emergency physician can open the records written from now on.
			if len(res.RotatedClasses) > 0 {
				er, err := a.RenewEscrow(cmd.Context())
				if err != nil {
					cmd.PrintErrf("the consent is revoked, but the new keys are not escrowed: %v (run `healthd consent escrow`)\n", err)
				}
				out.Escrow = er
			}
			return printJSON(cmd, out)
		},
	}
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// rotationOutput is what revoke and rotate print: the rotation's fields, and
// the new escrow if one was made.
type rotationOutput struct {
	agent.RevokeResult
	Escrow *agent.EscrowResult `json:"escrow,omitempty"`
}

func consentEscrowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "escrow",
		Short: "Escrow your emergency class keys with the consortium's custodians, for break-glass",
		Long: "Splits your current class key of each --classes (default: allergy, prescription, diagnosis, immunization, " +
			"vital-signs, lab-result) among the custodians the chain lists, so that a threshold of them (2 of 3 on the " +
			"localnet) can release it to a provider who breaks the glass for you, and only then (every release is on " +
			"chain, in your access log). Each custodian gets one ciphertext with its shares, and the chain keeps a " +
			"commitment to every share so a bad one is detected. It replaces your earlier escrow. Run it again after a " +
			"key rotation (`consent revoke` does it for you) or when the custodian set changes (`query consent escrow` " +
			"says stale). t colluding custodians can open the escrowed classes without an emergency: escrow only the " +
			"classes an emergency physician needs.",
		Example: "healthd consent escrow --from alice\nhealthd consent escrow --classes allergy,prescription --from alice",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			classes, _ := cmd.Flags().GetStringSlice("classes")
			res, err := a.Escrow(cmd.Context(), classes)
			if err != nil {
				return err
			}
			return printJSON(cmd, res)
		},
	}
	cmd.Flags().StringSlice("classes", nil, "data classes to escrow, comma-separated (default: the emergency classes)")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

func consentRegisterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register yourself as a patient, with the encryption key your account derives, and escrow your emergency keys",
		Long: "Registers the --from account as a patient with the encryption key it derives (`healthd keys encryption-key`), " +
			"then, unless --no-escrow, escrows the emergency class keys with the chain's custodians (`healthd consent " +
			"escrow`), so that a provider who breaks the glass for you can read your allergies, prescriptions, diagnoses, " +
			"immunizations, vital signs and lab results once 2 custodians release their shares.",
		Example: "healthd consent register --from carol",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			if err := a.RegisterPatient(cmd.Context()); err != nil {
				return fmt.Errorf("not registered: %w", err)
			}
			out := map[string]any{"patient": a.Address()}
			if noEscrow, _ := cmd.Flags().GetBool("no-escrow"); !noEscrow {
				res, err := a.Escrow(cmd.Context(), nil)
				switch {
				case errors.Is(err, agent.ErrNoCustodians):
					cmd.PrintErrln("registered; no emergency key escrow: the chain has no custodians")
				case err != nil:
					cmd.PrintErrf("registered, but the emergency keys are not escrowed: %v (run `healthd consent escrow`)\n", err)
				default:
					out["escrow"] = res
				}
			}
			return printJSON(cmd, out)
		},
	}
	cmd.Flags().Bool("no-escrow", false, "do not escrow the emergency class keys")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

func consentRotateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Move some of your class keys to a new epoch, without revoking anything (after an emergency, say)",
		Long: "Moves your class key of each --classes to its next epoch, re-issues the new keys to your live grantees in " +
			"the same transaction (as `consent revoke` does), and escrows the new emergency keys with the custodians. " +
			"Whoever holds only the old key (a provider that combined your keys under a break-glass access, a grantee " +
			"whose consent expired) opens nothing you file from now on; what it could already open stays open to it.",
		Example: "healthd consent rotate --classes allergy,prescription,lab-result --from alice",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := txAgent(cmd)
			if err != nil {
				return err
			}
			classes, _ := cmd.Flags().GetStringSlice("classes")
			res, escrow, err := a.Rotate(cmd.Context(), classes)
			if err != nil {
				return err
			}
			return printJSON(cmd, rotationOutput{res, escrow})
		},
	}
	cmd.Flags().StringSlice("classes", nil, "data classes to rotate, comma-separated")
	_ = cmd.MarkFlagRequired("classes")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}
