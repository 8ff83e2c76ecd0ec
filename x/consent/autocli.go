package consent

import (
	"strings"

	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"

	"github.com/healthd-chain/healthd/x/consent/types"
)

// AutoCLIOptions describes `healthd tx consent` and `healthd query consent`.
func (AppModule) AutoCLIOptions() *autocliv1.ModuleOptions {
	return &autocliv1.ModuleOptions{
		Query: &autocliv1.ServiceCommandDescriptor{
			Service: types.Query_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod: "Consent", Use: "consent [id]", Short: "Show a consent",
					Example:        "healthd query consent consent 1",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "id"}},
				},
				{
					RpcMethod: "ConsentsByPatient", Use: "consents-by-patient [patient]", Short: "List a patient's consents (--status active|revoked|expired)",
					Example:        "healthd query consent consents-by-patient alice --status active",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "patient"}},
				},
				{
					RpcMethod: "ConsentsByGrantee", Use: "consents-by-grantee [grantee]", Short: "List the consents given to a grantee",
					Example:        "healthd query consent consents-by-grantee hospital --status active",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "grantee"}},
				},
				{
					RpcMethod: "EmergencyAccesses", Use: "emergency-accesses [patient]", Short: "List the break-glass accesses to a patient's records",
					Example:        "healthd query consent emergency-accesses alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "patient"}},
				},
				{
					RpcMethod: "CheckAccess", Use: "check-access [patient] [grantee] [data-class] [permission] [purpose]",
					Short:   "Would grantee be allowed, now? (the access rule x/records applies)",
					Example: "healthd query consent check-access alice hospital lab-result read TREAT",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "patient"}, {ProtoField: "grantee"}, {ProtoField: "data_class"}, {ProtoField: "permission"}, {ProtoField: "purpose"},
					},
				},
				{
					RpcMethod: "Patient", Use: "patient [address]", Short: "Show a patient profile (encryption key, delegates)",
					Example:        "healthd query consent patient alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "address"}},
				},
				{
					RpcMethod: "KeyEpochs", Use: "key-epochs [patient]",
					Short:          "Show the class-key epochs a patient's revocations moved (classes not listed are at epoch 1)",
					Example:        "healthd query consent key-epochs alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "patient"}},
				},
				{RpcMethod: "Params", Use: "params", Short: "Show the consent parameters", Example: "healthd query consent params"},
				{
					RpcMethod: "Escrow", Use: "escrow [patient]", Short: "Show a patient's emergency key escrow (stale: made for an older custodian set)",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "patient"}},
				},
				{
					RpcMethod: "KeyReleases", Use: "key-releases [patient]",
					Short:          "List the custodians' releases of a patient's key shares (--access-id for one emergency access)",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "patient"}},
				},
				{
					RpcMethod: "LiveEmergencyAccesses", Use: "live-emergency-accesses",
					Short: "List the emergency accesses active now, of every patient (what custodians serve)",
				},
			},
		},
		Tx: &autocliv1.ServiceCommandDescriptor{
			Service: types.Msg_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod: "RegisterPatient", Use: "register-patient [encryption-key]",
					Short:          "Register as a patient with your HPKE public key (a file, hex or base64; 1216 bytes)",
					Example:        "healthd tx consent register-patient alice.key --from alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "encryption_key"}},
				},
				{
					RpcMethod: "UpdatePatient", Use: "update-patient [encryption-key]", Short: "Rotate your encryption key",
					Example:        "healthd tx consent update-patient alice-2.key --from alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "encryption_key"}},
				},
				{
					RpcMethod: "AddDelegate", Use: "add-delegate [delegate] [expires-at]",
					Short:          "Let a guardian manage your consents until expires-at (RFC 3339)",
					Example:        "healthd tx consent add-delegate health1… 2027-06-30T00:00:00Z --from alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "delegate"}, {ProtoField: "expires_at"}},
				},
				{
					RpcMethod: "RemoveDelegate", Use: "remove-delegate [delegate]", Short: "Remove a delegate",
					Example:        "healthd tx consent remove-delegate health1… --from alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "delegate"}},
				},
				{
					RpcMethod: "GrantConsent", Use: "grant [grantee]",
					Short: "Grant a provider (or a registered patient) access to classes of your data",
					Long: "Grant grantee the --permissions (read, write) on the --classes (" + classList() + ") for the --purposes " +
						"(TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PATRQT), from now (or --start, at most 5 minutes in the past) for " +
						"--expires. --key-grants (from `healthd records key-grants`) give the grantee the class keys: with them, " +
						"WRITE ACCESS ALSO DECRYPTS every earlier record of those classes (a writer needs the key to encrypt). " +
						"Only the patient may attach key grants; a delegate adds --patient and grants without keys.",
					Example:        "healthd tx consent grant health1… --classes lab-result,diagnosis --purposes TREAT --permissions read --expires 720h --from alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "grantee"}},
					FlagOptions: map[string]*autocliv1.FlagOptions{
						"data_classes": {Name: "classes", Usage: "data classes covered, comma-separated"},
						"duration":     {Name: "expires", Usage: "how long the consent lasts, e.g. 720h"},
						"patient":      {Name: "patient", Usage: "the patient, when a delegate signs (default: the signer)"},
					},
				},
				{
					RpcMethod: "RevokeConsent", Use: "revoke [consent-id]", Short: "Revoke a consent (it stops at once; data already read cannot be recalled)",
					Long: "Revokes the consent at once. If it carried key grants, the chain moves the class keys of its classes to " +
						"a new epoch: new records must use it, and the patient's other grantees need the new keys, which this raw " +
						"command does not send (--rotated-key-grants). `healthd records revoke` does it all: use that. A delegate's " +
						"revoke ends the consent but moves no epoch (only the patient's does).",
					Example:        "healthd tx consent revoke 7 --from alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "consent_id"}},
				},
				{
					RpcMethod: "BreakGlass", Use: "break-glass [patient] [reason] [note]",
					Short: "Open emergency access to a patient's records (active providers; ETREAT only; reviewed afterwards)",
					Long: "reason is unconscious-patient, life-threatening, unable-to-consent or public-health. note is a short " +
						"justification (at most 140 characters) that MUST NOT contain clinical or identifying details. " +
						"--duration defaults to nothing: give it, at most the max_emergency_duration parameter (4h by default).",
					Example:        `healthd tx consent break-glass health1… unconscious-patient "ED admission, patient unresponsive" --duration 2h --from clinic`,
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "patient"}, {ProtoField: "reason"}, {ProtoField: "note"}},
				},
				{
					RpcMethod: "ReviewEmergencyAccess", Use: "review-emergency [consent-id] [verdict]",
					Short:          "Judge an emergency access justified or abusive (registrars, governance); abusive suspends the provider",
					Example:        "healthd tx consent review-emergency 12 abusive --from registrar",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "consent_id"}, {ProtoField: "verdict"}},
				},
				{RpcMethod: "UpdateParams", Skip: true}, // governance only
				// built and sealed on the client: `healthd consent escrow`, `healthd custodian start`
				{RpcMethod: "EscrowKeys", Skip: true},
				{RpcMethod: "ReleaseKeyShares", Skip: true},
				{RpcMethod: "RotateClassKeys", Skip: true}, // `healthd consent rotate` re-issues the new keys too
			},
		},
	}
}

func classList() string { return strings.Join(types.DataClasses, ", ") }
