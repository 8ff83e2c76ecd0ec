// Package types holds the x/records types: records, access receipts, messages,
// genesis, params, events (generated from proto/healthd/records/v1) and their
// validation.
package types

import "cosmossdk.io/collections"

const (
	// ModuleName is the name of the module.
	ModuleName = "records"
	// StoreKey is the KV store key of the module.
	StoreKey = ModuleName
)

// Collection prefixes. Each is used once, never reused for another collection.
var (
	ParamsKey                = collections.NewPrefix(0)
	RecordSeqKey             = collections.NewPrefix(1)
	RecordsKey               = collections.NewPrefix(2)
	RecordsByPatientClassKey = collections.NewPrefix(3) // (patient, class, id)
	// 4 and 5 held (patient, status, id) and (patient, class/status, id) before
	// the first release; retired, never to be reused.
	RecordsByAuthorKey   = collections.NewPrefix(6) // (author, id)
	RecordsByHashKey     = collections.NewPrefix(7) // hash → id (unique)
	ReceiptSeqKey        = collections.NewPrefix(8)
	ReceiptsKey          = collections.NewPrefix(9)
	ReceiptsByPatientKey = collections.NewPrefix(10) // (patient, id)
	ReceiptsByRecordKey  = collections.NewPrefix(11) // (record id, id)
	RecordsByPatientKey  = collections.NewPrefix(12) // (patient, id)
)
