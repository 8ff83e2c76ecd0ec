package app

import (
	"fmt"

	storetypes "cosmossdk.io/store/types"
	upgradetypes "cosmossdk.io/x/upgrade/types"
)

// Upgrade is one named software upgrade: the handler that migrates state when a
// governance-scheduled upgrade of that name is reached, and the stores it adds or
// removes.
type Upgrade struct {
	Name          string
	Handler       upgradetypes.UpgradeHandler
	StoreUpgrades storetypes.StoreUpgrades
}

// upgrades lists every upgrade this binary knows. It is empty: healthd has had no
// release yet. Add an entry here, with its store changes, for each new release.
var upgrades []Upgrade

// registerUpgradeHandlers registers each known upgrade's handler and, when the
// node restarts at the height of a planned upgrade, the store loader that applies
// its store additions and deletions.
func (app *HealthApp) registerUpgradeHandlers() error {
	for _, u := range upgrades {
		app.UpgradeKeeper.SetUpgradeHandler(u.Name, u.Handler)
	}

	plan, err := app.UpgradeKeeper.ReadUpgradeInfoFromDisk()
	if err != nil {
		return fmt.Errorf("read upgrade info from disk: %w", err)
	}
	if app.UpgradeKeeper.IsSkipHeight(plan.Height) {
		return nil
	}
	for _, u := range upgrades {
		if u.Name == plan.Name {
			su := u.StoreUpgrades
			app.SetStoreLoader(upgradetypes.UpgradeStoreLoader(plan.Height, &su))
		}
	}
	return nil
}
