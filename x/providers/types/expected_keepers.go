package types

// x/providers depends on no other module's keeper: it is the root of the
// permission chain (x/consent and x/records depend on it, through the interface
// they declare in their own expected_keepers.go).
