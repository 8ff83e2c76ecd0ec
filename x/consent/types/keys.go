// Package types holds the x/consent types: profiles, consents, messages, genesis,
// params, events (generated from proto/healthd/consent/v1), the shared vocabulary
// of data classes, purposes and permissions, and their validation.
package types

import "cosmossdk.io/collections"

const (
	// ModuleName is the name of the module.
	ModuleName = "consent"
	// StoreKey is the KV store key of the module.
	StoreKey = ModuleName
)

// Collection prefixes. Each is used once, never reused for another collection.
var (
	ParamsKey            = collections.NewPrefix(0)
	PatientsKey          = collections.NewPrefix(1)
	ConsentSeqKey        = collections.NewPrefix(2)
	ConsentsKey          = collections.NewPrefix(3)
	ConsentsByPatientKey = collections.NewPrefix(4)  // (patient, status, id)
	ConsentsByGranteeKey = collections.NewPrefix(5)  // (grantee, status, id)
	ConsentsByPairKey    = collections.NewPrefix(6)  // (patient, grantee, id)
	ConsentsEmergencyKey = collections.NewPrefix(7)  // (patient, emergency, id)
	ExpiryQueueKey       = collections.NewPrefix(8)  // (end, id) of active consents
	KeyEpochsKey         = collections.NewPrefix(9)  // (patient, data class) -> epoch above 1
	EscrowsKey           = collections.NewPrefix(10) // patient -> key escrow
	ReleasesKey          = collections.NewPrefix(11) // (patient, access id, custodian) -> key release
	LiveEmergenciesKey   = collections.NewPrefix(12) // ids of active emergency consents
)
