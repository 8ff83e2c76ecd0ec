//go:build healthd_prev

package keeper

// This file builds the release before upgrade v2 from today's tree, for the
// upgrade test's old binary (go build -tags healthd_prev): state layout
// version 1, records without root_id and version. See docs/development.md,
// "Upgrades and migrations".

// ConsensusVersion is the version of the module's state layout.
const ConsensusVersion = 1

// stampsLineage is false: release 1 did not know root_id and version.
const stampsLineage = false
