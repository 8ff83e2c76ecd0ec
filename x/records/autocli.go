package records

import (
	autocliv1 "cosmossdk.io/api/cosmos/autocli/v1"

	"github.com/healthd-chain/healthd/x/records/types"
)

// AutoCLIOptions describes `healthd tx records` and `healthd query records`. The
// raw `create` is for integrations that encrypt and upload themselves; encrypted
// put/get comes with client-side encryption.
func (AppModule) AutoCLIOptions() *autocliv1.ModuleOptions {
	return &autocliv1.ModuleOptions{
		Query: &autocliv1.ServiceCommandDescriptor{
			Service: types.Query_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod: "Record", Use: "record [id]", Short: "Show a record commitment",
					Example: "healthd query records record 42", PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "id"}},
				},
				{
					RpcMethod: "RecordsByPatient", Use: "records-by-patient [patient]", Short: "List a patient's records (--data-class, --status)",
					Example:        "healthd query records records-by-patient alice --data-class lab-result --status active",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "patient"}},
				},
				{
					RpcMethod: "RecordsByAuthor", Use: "records-by-author [author]", Short: "List the records an author created",
					Example: "healthd query records records-by-author hospital", PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "author"}},
				},
				{
					RpcMethod: "RecordByHash", Use: "record-by-hash [content-hash]", Short: "Find the record with a SHA-256 of ciphertext (hex): a hash is committed once, ever",
					Example:        "healthd query records record-by-hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "content_hash"}},
				},
				{
					RpcMethod: "Receipt", Use: "receipt [id]", Short: "Show an access receipt",
					Example: "healthd query records receipt 7", PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "id"}},
				},
				{
					RpcMethod: "ReceiptsByPatient", Use: "receipts-by-patient [patient]", Short: "Every read of a patient's records (accounting of disclosures)",
					Example: "healthd query records receipts-by-patient alice", PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "patient"}},
				},
				{
					RpcMethod: "ReceiptsByRecord", Use: "receipts-by-record [record-id]", Short: "Every read of one record",
					Example: "healthd query records receipts-by-record 42", PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "record_id"}},
				},
				{
					RpcMethod: "RecordsByHashes", Use: "records-by-hashes [content-hash]...",
					Short:          "Find the records of many SHA-256 hashes of ciphertext (hex, at most 256) in one query",
					Example:        "healthd query records records-by-hashes 5c29…46 0a1b…ff",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "content_hashes", Varargs: true}},
				},
				{
					RpcMethod: "ReadDecisions", Use: "read-decisions [accessor] [purpose] [record-id]...",
					Short:   "What the chain would decide now for reads of these records (at most 256) by accessor for purpose",
					Example: "healthd query records read-decisions health1… TREAT 1 2 3",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "accessor"}, {ProtoField: "purpose"}, {ProtoField: "record_ids", Varargs: true},
					},
				},
				{
					RpcMethod: "ReceiptReads", Use: "receipt-reads [accessor] [receipt-id]...",
					Short:   "For access receipts of accessor (at most 256): their records, and whether the read is still allowed now",
					Example: "healthd query records receipt-reads health1… 7 8",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{
						{ProtoField: "accessor"}, {ProtoField: "receipt_ids", Varargs: true},
					},
				},
				{RpcMethod: "Params", Use: "params", Short: "Show the records parameters", Example: "healthd query records params"},
			},
		},
		Tx: &autocliv1.ServiceCommandDescriptor{
			Service: types.Msg_serviceDesc.ServiceName,
			RpcCommandOptions: []*autocliv1.RpcCommandOptions{
				{
					RpcMethod: "CreateRecords", Use: "create [purpose] [entry-json]...",
					Short: "Commit already encrypted and uploaded records for a patient (integrations; all or nothing)",
					Long: "Each entry-json is one JSON object {data_class, fhir_resource_type, content_hash (base64 SHA-256 of " +
						"the ciphertext), size, storage_uri, key_envelope (base64), key_epoch}; at most max_batch_size entries. " +
						"--patient names the patient (default: the signer). A provider needs the patient's write consent for " +
						"each class and the purpose.",
					Example: `healthd tx records create TREAT '{"data_class":"lab-result","fhir_resource_type":"Observation",` +
						`"content_hash":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=","size":"2048","storage_uri":"vault://hospital/9f86d0",` +
						`"key_envelope":"AQID","key_epoch":"1"}' --patient health1… --from hospital`,
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "purpose"}, {ProtoField: "entries", Varargs: true}},
				},
				{
					RpcMethod: "AmendRecord", Use: "amend [record-id] [purpose] [entry-json]",
					Short:          "Create a new version of an active record (its author or the patient)",
					Example:        `healthd tx records amend 42 TREAT '{"data_class":"lab-result","fhir_resource_type":"Observation","content_hash":"…","size":"2100","storage_uri":"vault://…","key_envelope":"…","key_epoch":"1"}' --from hospital`,
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "record_id"}, {ProtoField: "purpose"}, {ProtoField: "entry"}},
				},
				{
					RpcMethod: "EraseRecord", Use: "erase [record-id]",
					Short: "Erase a record and every version of it: keys and locations leave the chain, the vaults delete the blobs (the patient or a delegate)",
					Long: "Erases the record and every other version of it (the versions it amends and those amending it): their " +
						"key envelopes and storage locations leave chain state and the vaults delete the ciphertexts at their " +
						"next sweep. At most 50 versions per transaction: when the result says more: true, run it again. What " +
						"erasure cannot do: recall a copy someone already downloaded, or remove the envelope from the chain's " +
						"block history (whoever holds the class key could open it from there with a copy of the ciphertext).",
					Example:        "healthd tx records erase 42 --from alice",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "record_id"}},
				},
				{
					RpcMethod: "AccessRecord", Use: "access [record-id] [purpose]",
					Short:          "Ask to read a record for a purpose; an allowed read gets an on-chain access receipt",
					Example:        "healthd tx records access 42 TREAT --from lab",
					PositionalArgs: []*autocliv1.PositionalArgDescriptor{{ProtoField: "record_id"}, {ProtoField: "purpose"}},
				},
				{RpcMethod: "UpdateParams", Skip: true}, // governance only
			},
		},
	}
}
