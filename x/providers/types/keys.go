// Package types holds the x/providers types: messages, state, genesis, params,
// events (generated from proto/healthd/providers/v1) and their validation.
package types

import "cosmossdk.io/collections"

const (
	// ModuleName is the name of the module.
	ModuleName = "providers"
	// StoreKey is the KV store key of the module.
	StoreKey = ModuleName
)

// Collection prefixes. Each is used once, never reused for another collection.
var (
	// ParamsKey holds the module parameters.
	ParamsKey = collections.NewPrefix(0)
	// ProvidersKey holds providers by address.
	ProvidersKey = collections.NewPrefix(1)
	// ProvidersByStatusKey indexes providers by status.
	ProvidersByStatusKey = collections.NewPrefix(2)
	// ProvidersByKindKey indexes providers by kind.
	ProvidersByKindKey = collections.NewPrefix(3)
	// ProvidersByStatusKindKey indexes providers by (status, kind).
	ProvidersByStatusKindKey = collections.NewPrefix(4)
)
