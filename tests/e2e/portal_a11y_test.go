package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/healthd-chain/healthd/testutil/network"
)

// The accessibility audit: axe-core (npm, pinned in tests/e2e/axe/
// package-lock.json) is injected into each screen of the portal by the
// browser tests, and a serious or critical violation fails them.

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axeScript returns axe-core's browser build, installed once per run with
// npm ci. Node and npm are required (make test installs them).
func axeScript(t testing.TB) string {
	t.Helper()
	axeOnce.Do(func() {
		root, err := network.RepoRoot()
		if err != nil {
			axeErr = err
			return
		}
		dir := filepath.Join(root, "tests", "e2e", "axe")
		js := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
		if _, err := os.Stat(js); err != nil {
			if _, err := exec.LookPath("npm"); err != nil {
				axeErr = fmt.Errorf("npm is not installed: the accessibility audit injects axe-core from npm (bash scripts/install-node.sh)")
				return
			}
			cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				axeErr = fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
				return
			}
		}
		b, err := os.ReadFile(js)
		axeSource, axeErr = string(b), err
	})
	if axeErr != nil {
		t.Fatal(axeErr)
	}
	return axeSource
}

// axeViolation is one rule axe-core found broken on a screen.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Nodes  int    `json:"nodes"`
	Help   string `json:"help"`
	Target string `json:"target"`
}

// audit is what the accessibility audit found, screen by screen.
type audit struct {
	mu      sync.Mutex
	screens []string
	found   map[string][]axeViolation
}

// check runs axe-core (WCAG 2.0–2.2 A and AA, and best practices) on the
// tab's page as it is now, and records it as screen.
func (a *audit) check(b *tab, screen string) {
	b.t.Helper()
	var vs []axeViolation
	b.run("audit "+screen, chromedp.Evaluate(axeScript(b.t), nil),
		chromedp.Evaluate(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}})
			.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", nodes: v.nodes.length, help: v.help,
				target: v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")})))`, &vs, awaitPromise))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.found == nil {
		a.found = map[string][]axeViolation{}
	}
	a.screens = append(a.screens, screen)
	a.found[screen] = vs
}

// report logs every violation and the counts by impact, and fails the test
// on a serious or critical one.
func (a *audit) report(t *testing.T) {
	t.Helper()
	byImpact := map[string]int{}
	var lines []string
	for _, s := range a.screens {
		for _, v := range a.found[s] {
			byImpact[v.Impact]++
			lines = append(lines, fmt.Sprintf("%-28s %-9s %-28s %d× %s (%s)", s, v.Impact, v.ID, v.Nodes, v.Help, v.Target))
		}
	}
	var counts []string
	for _, impact := range []string{"critical", "serious", "moderate", "minor"} {
		counts = append(counts, fmt.Sprintf("%s %d", impact, byImpact[impact]))
	}
	sort.Strings(lines)
	t.Logf("accessibility audit (axe-core) of %d screens: %s\n%s", len(a.screens), strings.Join(counts, ", "), strings.Join(lines, "\n"))
	if byImpact["critical"]+byImpact["serious"] > 0 {
		t.Errorf("the audit found %d critical and %d serious violations", byImpact["critical"], byImpact["serious"])
	}
}

// key presses keys (kb.Tab, kb.Enter, text) one after the other.
func (b *tab) key(what string, keys ...string) {
	b.t.Helper()
	actions := make([]chromedp.Action, len(keys))
	for i, k := range keys {
		actions[i] = chromedp.KeyEvent(k)
	}
	b.run(what, actions...)
}

// tabTo presses Tab until the focused element matches sel (at most 80
// presses), as a keyboard-only user would move to it.
func (b *tab) tabTo(sel string) {
	b.t.Helper()
	for i := 0; i < 80; i++ {
		var ok bool
		b.run("is "+sel+" focused", chromedp.Evaluate(fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel), &ok))
		if ok {
			return
		}
		b.key("Tab", kb.Tab)
	}
	var at string
	b.run("what is focused", chromedp.Evaluate(`document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : ""`, &at))
	b.t.Fatalf("%s: 80 presses of Tab never reached %s (focus is on %s)", b.who, sel, at)
}
