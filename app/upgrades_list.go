//go:build !healthd_prev

package app

// upgrades lists every upgrade this binary knows, oldest first. A new release
// appends its upgrade here and adds the previous list to upgrades_list_prev.go,
// which builds the release before it for the upgrade test.
func (app *HealthApp) upgrades() []Upgrade {
	return []Upgrade{app.upgradeV2()}
}
