package cmd

import (
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/healthd-chain/healthd/crypto"
	consenttypes "github.com/healthd-chain/healthd/x/consent/types"
)

// rekeyMargin skips, when re-issuing key grants, consents about to end: the
// chain refuses grants for a consent that has ended by the time the
// transaction runs.
const rekeyMargin = 2 * time.Minute

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
			clientCtx, err := client.GetClientTxContext(cmd)
			if err != nil {
				return err
			}
			me, priv, err := accountKey(clientCtx)
			if err != nil {
				return err
			}
			var id uint64
			if _, err := fmt.Sscan(args[0], &id); err != nil {
				return fmt.Errorf("consent id %q: %w", args[0], err)
			}
			cq := consenttypes.NewQueryClient(clientCtx)
			cr, err := cq.Consent(cmd.Context(), &consenttypes.QueryConsentRequest{Id: id})
			if err != nil {
				return fmt.Errorf("consent %d: %w", id, err)
			}
			c := cr.Consent
			if c.Patient != me {
				return fmt.Errorf("consent %d is %s's: only the patient can rotate its class keys "+
					"(a delegate can revoke with `healthd tx consent revoke`, which does not re-issue keys)", id, c.Patient)
			}
			msg := &consenttypes.MsgRevokeConsent{Signer: me, ConsentId: id}
			var rotated []string
			newEpochs := map[string]uint64{}
			var rekeyed []uint64
			if len(c.KeyGrants) > 0 {
				rotated = c.DataClasses
				epochs, err := currentEpochs(cmd.Context(), clientCtx, me)
				if err != nil {
					return err
				}
				newKeys := map[string][]byte{}
				for _, class := range rotated {
					newEpochs[class] = epochs[class] + 1
					kctx := crypto.KeyContext{Patient: me, DataClass: class, Epoch: newEpochs[class]}
					if newKeys[class], err = crypto.PatientClassKey(priv, kctx); err != nil {
						return err
					}
				}
				if msg.RotatedKeyGrants, err = rekeyConsents(cmd, clientCtx, me, id, newKeys, newEpochs); err != nil {
					return err
				}
				for _, r := range msg.RotatedKeyGrants {
					rekeyed = append(rekeyed, r.ConsentId)
				}
			}
			var resp consenttypes.MsgRevokeConsentResponse
			if err := sendAndWait(cmd, clientCtx, msg, &resp); err != nil {
				return fmt.Errorf("consent %d was not revoked: %w", id, err)
			}
			return printJSON(cmd, map[string]any{
				"revoked": id, "rotated_classes": rotated, "new_epochs": newEpochs, "rekeyed_consents": rekeyed,
			})
		},
	}
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// rekeyConsents builds the key-grant updates for the patient's live consents
// other than revoked: every grant for a rotated class is replaced by a grant of
// the new epoch's key to the consent's grantee; the others are kept.
func rekeyConsents(cmd *cobra.Command, clientCtx client.Context, patient string, revoked uint64,
	newKeys map[string][]byte, newEpochs map[string]uint64,
) ([]consenttypes.KeyGrantUpdate, error) {
	cq := consenttypes.NewQueryClient(clientCtx)
	var updates []consenttypes.KeyGrantUpdate
	var next []byte
	for {
		resp, err := cq.ConsentsByPatient(cmd.Context(), &consenttypes.QueryConsentsByPatientRequest{
			Patient: patient, Status: consenttypes.CONSENT_STATUS_ACTIVE, Pagination: &query.PageRequest{Key: next},
		})
		if err != nil {
			return nil, err
		}
		for _, o := range resp.Consents {
			if o.Id == revoked || len(o.KeyGrants) == 0 || time.Until(o.Period.End) < rekeyMargin {
				continue
			}
			grants := make([][]byte, 0, len(o.KeyGrants))
			changed := false
			for _, g := range o.KeyGrants {
				class, _, ok := crypto.GrantLabel(g)
				if !ok || newKeys[class] == nil {
					grants = append(grants, g)
					continue
				}
				pub, err := publishedKey(cmd.Context(), clientCtx, o.Grantee)
				if err != nil {
					return nil, fmt.Errorf("re-issuing consent %d's key: %w", o.Id, err)
				}
				ng, err := crypto.WrapClassKey(pub, newKeys[class], crypto.KeyContext{Patient: patient, DataClass: class, Epoch: newEpochs[class]})
				if err != nil {
					return nil, err
				}
				grants = append(grants, ng)
				changed = true
			}
			if changed && !slices.ContainsFunc(updates, func(u consenttypes.KeyGrantUpdate) bool { return u.ConsentId == o.Id }) {
				updates = append(updates, consenttypes.KeyGrantUpdate{ConsentId: o.Id, KeyGrants: grants})
			}
		}
		if resp.Pagination == nil || len(resp.Pagination.NextKey) == 0 {
			break
		}
		next = resp.Pagination.NextKey
	}
	return updates, nil
}
