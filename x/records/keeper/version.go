//go:build !healthd_prev

package keeper

// ConsensusVersion is the version of the module's state layout. Version 2
// (upgrade v2) gives every record its root_id and version; Migrator.Migrate1to2
// fills them for records written by version 1.
const ConsensusVersion = 2

// stampsLineage is whether the handlers set root_id and version on new
// records. Only the build of the release before v2 (tag healthd_prev, used by
// the upgrade test as the old binary) leaves them unset.
const stampsLineage = true
