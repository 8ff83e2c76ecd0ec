package providers

import (
	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"

	"github.com/healthd-chain/healthd/x/providers/types"
)

// AutoCLIOptions describes the `healthd tx providers` and `healthd query
// providers` commands generated from the module's services.
func (AppModule) AutoCLIOptions() *autocliv1.ModuleOptions {
	return &autocliv1.ModuleOptions{
		Query: &autocliv1.ServiceCommandDescriptor{
			Service: types.Query_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod:      "Provider",
					Use:            "provider [address]",
					Short:          "Show a provider and whether it is active now",
					Example:        "healthd query providers provider health1…",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "address"}},
				},
				{
					RpcMethod: "Providers",
					Use:       "providers",
					Short:     "List providers, optionally by --status and --kind",
					Example:   "healthd query providers providers --status active --kind laboratory",
				},
				{
					RpcMethod: "Params",
					Use:       "params",
					Short:     "Show the registry parameters (registrars, maximum credential validity)",
					Example:   "healthd query providers params",
				},
			},
		},
		Tx: &autocliv1.ServiceCommandDescriptor{
			Service: types.Msg_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod: "ApplyProvider",
					Use:       "apply [name] [kind] [license-id] [jurisdiction] [encryption-key] [vault-endpoint] [credential-hash]",
					Short:     "Apply to the provider registry (the signer becomes a pending provider)",
					Long: "Apply to the provider registry. kind is one of hospital, clinic, laboratory, pharmacy, " +
						"practitioner, payer, research. encryption-key is the 1216-byte HPKE MLKEM768X25519 public key " +
						"(a file path, hex or base64). credential-hash is the SHA-256 of the credential document the " +
						"registrar checks (hex). Applying again while pending replaces the application.",
					Example: `healthd tx providers apply "Example Lab" laboratory LAB-0042 DE lab.key https://vault.example.org ` +
						`$(sha256sum credential.pdf | cut -d" " -f1) --from lab`,
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "name"},
						{ProtoField: "kind"},
						{ProtoField: "license_id"},
						{ProtoField: "jurisdiction"},
						{ProtoField: "encryption_key"},
						{ProtoField: "vault_endpoint"},
						{ProtoField: "credential_hash"},
					},
				},
				{
					RpcMethod: "ApproveProvider",
					Use:       "approve [provider] [credential-expires-at] [credential-hash]",
					Short:     "Approve a pending provider, or renew a credential (registrars and governance)",
					Long: "Approve a pending provider until credential-expires-at (RFC 3339), which must be after the " +
						"current block time and within the max_credential_validity parameter. credential-hash (hex SHA-256) " +
						"is the hash of the credential document you reviewed: it must be the provider's current one, so an " +
						"application changed after your review is not approved. Also renews the credential of an active " +
						"provider that requested renewal.",
					Example: "healthd tx providers approve health1… 2027-12-31T00:00:00Z 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 --from registrar",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "provider"}, {ProtoField: "credential_expires_at"}, {ProtoField: "credential_hash"},
					},
				},
				{
					RpcMethod: "SetProviderStatus",
					Use:       "set-status [provider] [status] [reason]",
					Short:     "Suspend, revoke or reinstate a provider (registrars and governance)",
					Long: "status is suspended, revoked (final) or active (reinstate a suspended provider). reason is one of " +
						"license-lapsed, misconduct, emergency-access-abuse, security-incident, membership-ended, " +
						"administrative-review, issue-resolved.",
					Example:        "healthd tx providers set-status health1… suspended security-incident --from registrar",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "provider"}, {ProtoField: "status"}, {ProtoField: "reason"}},
				},
				{
					RpcMethod: "UpdateProvider",
					Use:       "update",
					Short:     "Change your own registry entry (name, vault endpoint, encryption key, credential, renewal request)",
					Long: "Change the signer's entry; only the given flags change. A new --encryption-key rotates the key " +
						"(the old one is kept in previous_keys). --request-renewal asks a registrar to extend the credential. " +
						"WARNING: a new --name or --credential-hash returns your entry to pending: every access you have " +
						"(reads, writes, break-glass) is suspended until a registrar approves the new identity.",
					Example: "healthd tx providers update --vault-endpoint https://vault2.example.org --request-renewal --from lab",
				},
				{
					RpcMethod: "UpdateParams",
					Skip:      true, // governance only: submitted through a gov proposal
				},
			},
		},
	}
}
