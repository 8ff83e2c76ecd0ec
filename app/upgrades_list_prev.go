//go:build healthd_prev

package app

// upgrades of the release before the newest upgrade, built with the tag
// healthd_prev as the upgrade test's old binary: release 1 knew none.
func (app *HealthApp) upgrades() []Upgrade { return nil }
