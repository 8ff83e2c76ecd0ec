package app

import (
	"context"
	"fmt"

	storetypes "cosmossdk.io/store/types"
	upgradetypes "cosmossdk.io/x/upgrade/types"

	"github.com/cosmos/cosmos-sdk/types/module"
)

// Upgrade is one named software upgrade: the handler that migrates state when a
// governance-scheduled upgrade of that name is reached, and the stores it adds or
// removes.
type Upgrade struct {
	Name          string
	Handler       upgradetypes.UpgradeHandler
	StoreUpgrades storetypes.StoreUpgrades
}

// UpgradeV2 is the name of the first upgrade: x/records state layout 1 -> 2
// (every record gets root_id and version; x/records/keeper/migrations.go).
// From this upgrade on, a state layout changes only with a migration
// (docs/development.md, "Upgrades and migrations").
const UpgradeV2 = "v2"

// upgradeV2 runs the modules' registered migrations from the versions stored
// at the upgrade height to this binary's; it adds and removes no store.
func (app *HealthApp) upgradeV2() Upgrade {
	return Upgrade{Name: UpgradeV2, Handler: app.runMigrations}
}

// runMigrations is the handler of an upgrade whose only work is the modules'
// store migrations (module.Configurator.RegisterMigration in each module).
func (app *HealthApp) runMigrations(ctx context.Context, plan upgradetypes.Plan, fromVM module.VersionMap) (module.VersionMap, error) {
	vm, err := app.ModuleManager.RunMigrations(ctx, app.configurator, fromVM)
	if err != nil {
		return nil, fmt.Errorf("upgrade %s: %w", plan.Name, err)
	}
	return vm, nil
}

// registerUpgradeHandlers registers each known upgrade's handler (upgrades():
// upgrades_list.go) and, when the node restarts at the height of a planned
// upgrade, the store loader that applies its store additions and deletions.
func (app *HealthApp) registerUpgradeHandlers() error {
	known := app.upgrades()
	for _, u := range known {
		app.UpgradeKeeper.SetUpgradeHandler(u.Name, u.Handler)
	}

	plan, err := app.UpgradeKeeper.ReadUpgradeInfoFromDisk()
	if err != nil {
		return fmt.Errorf("read upgrade info from disk: %w", err)
	}
	if app.UpgradeKeeper.IsSkipHeight(plan.Height) {
		return nil
	}
	for _, u := range known {
		if u.Name == plan.Name {
			su := u.StoreUpgrades
			app.SetStoreLoader(upgradetypes.UpgradeStoreLoader(plan.Height, &su))
		}
	}
	return nil
}
