package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/healthd-chain/healthd/testutil/network"
)

// findChromium returns a Chromium to drive: $HEALTHD_CHROMIUM, else the first
// of the usual names on PATH. Without one, the browser tests skip, unless
// $HEALTHD_REQUIRE_BROWSER is set (make test-e2e and CI set it after
// installing Chromium), where they fail.
func findChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("HEALTHD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("HEALTHD_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium found, and HEALTHD_REQUIRE_BROWSER is set: install it with `bash scripts/install-chromium.sh`")
	}
	t.Skip("no Chromium on PATH: `make test-e2e` installs it and runs the browser tests")
	return ""
}

// screenshotDir is where the browser tests save their screenshots:
// $HEALTHD_PORTAL_SCREENSHOTS (docs/portal to refresh the docs), else a
// folder under the system temp dir.
func screenshotDir(t testing.TB) string {
	dir := os.Getenv("HEALTHD_PORTAL_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "healthd-portal-screenshots")
	} else if !filepath.IsAbs(dir) {
		root, err := network.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one browser tab on one portal.
type tab struct {
	t       testing.TB
	ctx     context.Context
	who     string
	shot    string // screenshot folder
	profile string // the browser's profile directory

	mu     sync.Mutex
	errors []string // JavaScript exceptions and console errors
}

// watch records the page's JavaScript exceptions and console errors, to
// report them when a step fails.
func (b *tab) watch() {
	chromedp.ListenTarget(b.ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			msg = e.ExceptionDetails.Error()
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type != cdpruntime.APITypeError {
				return
			}
			for _, a := range e.Args {
				msg += string(a.Value) + " "
			}
		default:
			return
		}
		b.mu.Lock()
		b.errors = append(b.errors, msg)
		b.mu.Unlock()
	})
}

func (b *tab) run(what string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %s: %v\npage messages: %s", b.who, what, err, b.messages())
	}
}

// messages is what the page's notice and error boxes say.
func (b *tab) messages() string {
	var s string
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	_ = chromedp.Run(ctx, chromedp.Evaluate(`["notice", "error"].map(id => document.getElementById(id)).filter(e => e && !e.hidden).map(e => e.id+": "+e.innerText).join(" | ")+" | main: "+(document.getElementById("main")?.innerText||"").slice(0, 300)`, &s))
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		s += "\nJavaScript errors: " + strings.Join(b.errors, "; ")
	}
	return s
}

// waitText waits until the element sel's text contains want, and returns it.
func (b *tab) waitText(sel, want string) string {
	b.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && !e.hidden ? e.innerText : ""; })()`, sel)
	var got string
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(js, &got))
		cancel()
		if err == nil && strings.Contains(got, want) {
			return got
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.t.Fatalf("%s: %s never said %q (it says %q; page messages: %s)", b.who, sel, want, got, b.messages())
	return ""
}

// screenshot saves the whole page as NAME.png.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	var png []byte
	b.run("screenshot "+name, chromedp.FullScreenshot(&png, 100))
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *tab) openTab(id string) {
	b.t.Helper()
	b.run("open tab "+id, chromedp.WaitVisible("#tab-"+id, chromedp.ByQuery), chromedp.Click("#tab-"+id, chromedp.ByQuery),
		chromedp.WaitNotPresent("main[aria-busy]", chromedp.ByQuery))
}

// grant fills the patient's Sharing form.
func (b *tab) grant(grantee string, permissions ...string) {
	b.t.Helper()
	b.openTab("sharing")
	actions := []chromedp.Action{
		chromedp.WaitVisible("#grant-form", chromedp.ByQuery),
		chromedp.SendKeys("#grant-grantee", grantee, chromedp.ByQuery),
		chromedp.Click(`#grant-form input[name="classes"][value="lab-result"]`, chromedp.ByQuery),
	}
	for _, p := range permissions {
		if p != "read" { // read is ticked already
			actions = append(actions, chromedp.Click(`#grant-form input[name="permissions"][value="`+p+`"]`, chromedp.ByQuery))
		}
	}
	actions = append(actions, chromedp.Click("#grant-submit", chromedp.ByQuery))
	b.run("grant "+grantee, actions...)
	b.waitText("#notice", "Access granted")
}

// lookup shows a patient's records in the provider's Patients tab.
func (b *tab) lookup(patient string) {
	b.t.Helper()
	b.openTab("patients")
	b.run("look up the patient",
		chromedp.WaitVisible("#lookup-form", chromedp.ByQuery),
		chromedp.SetValue("#lookup-addr", patient, chromedp.ByQuery),
		chromedp.Click("#lookup-submit", chromedp.ByQuery),
		chromedp.WaitNotPresent("#lookup-submit[aria-busy]", chromedp.ByQuery))
	b.waitText("#patient-records", "Lab results")
}

// TestPortalInTheBrowser drives three portals (the patient alice, the
// hospital, the lab) in headless Chromium against a real node and vault: the
// hospital files a lab result, alice grants the lab read access, the lab opens
// it, alice sees the read in her access log, alice revokes, the lab is
// refused with a clear message. It saves a screenshot of each main screen.
func TestPortalInTheBrowser(t *testing.T) {
	chromium := findChromium(t)
	n := network.StartNode(t)
	v := network.StartVault(t, n, network.VaultStoreFlags(t)...)
	alice, hospital, lab := n.Address("alice"), n.Address("hospital"), n.Address("lab")
	portals := map[string]*network.Portal{
		"alice": network.StartPortal(t, n, "alice", v.URL), "hospital": network.StartPortal(t, n, "hospital", v.URL),
		"lab": network.StartPortal(t, n, "lab", v.URL),
	}
	tabs := startBrowsers(t, chromium, portals)
	t.Logf("screenshots in %s", tabs["alice"].shot)
	pat, hosp, lb := tabs["alice"], tabs["hospital"], tabs["lab"]

	// given alice lets the hospital write lab results
	pat.grant(hospital, "read", "write")
	pat.screenshot("patient-sharing")

	// when the hospital files a lab result through its portal
	result := filepath.Join(t.TempDir(), "result.json")
	if err := os.WriteFile(result, []byte(labResultFHIR), 0o600); err != nil {
		t.Fatal(err)
	}
	hosp.openTab("file")
	hosp.run("file the lab result",
		chromedp.WaitVisible("#file-form", chromedp.ByQuery),
		chromedp.SetValue("#file-patient", alice, chromedp.ByQuery),
		chromedp.SetUploadFiles("#file-input", []string{result}, chromedp.ByQuery),
		chromedp.Click("#file-submit", chromedp.ByQuery))
	filed := hosp.waitText("#notice", "Filed: record #")
	hosp.screenshot("provider-file-record")
	var id string
	if _, err := fmt.Sscanf(filed[strings.Index(filed, "#"):], "#%s", &id); err != nil {
		t.Fatalf("record id in %q: %v", filed, err)
	}
	id = strings.TrimRight(id, ".")

	// then the lab, without consent, sees the record but is refused
	lb.lookup(alice)
	lb.waitText(`tr[data-record="`+id+`"]`, "You have no consent from this patient")
	lb.run("open without consent", chromedp.Click(`tr[data-record="`+id+`"] button`, chromedp.ByQuery))
	lb.waitText("#error", "You have no consent from this patient")

	// when alice grants the lab read access, the lab opens the exact original
	pat.grant(lab, "read")
	lb.lookup(alice)
	lb.run("open with consent", chromedp.Click(`tr[data-record="`+id+`"] button`, chromedp.ByQuery))
	shown := lb.waitText(`pre[data-record="`+id+`"]`, "Observation")
	var got, want any
	if err := json.Unmarshal([]byte(shown), &got); err != nil {
		t.Fatalf("the lab's viewer shows %q: %v", shown, err)
	}
	_ = json.Unmarshal([]byte(labResultFHIR), &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the lab decrypted %v, want %v", got, want)
	}
	lb.waitText("#notice", "The patient can see this read")
	lb.screenshot("provider-read-record")

	// and alice sees the lab's read in her access log
	pat.openTab("access")
	log := pat.waitText("#receipts", "Localnet Laboratory")
	if !strings.Contains(log, "#"+id) || !strings.Contains(log, "TREAT") {
		t.Fatalf("alice's access log: %q", log)
	}
	pat.screenshot("patient-access-log")
	pat.openTab("records")
	pat.waitText(`tr[data-record="`+id+`"]`, "Localnet General Hospital")
	pat.screenshot("patient-records")

	// when alice revokes the lab's consent
	pat.openTab("sharing")
	pat.waitText("#main", "Localnet Laboratory")
	var clicked bool
	pat.run("revoke the lab", chromedp.Evaluate(`(() => {
		const row = [...document.querySelectorAll("tr[data-consent]")].find(r => r.innerText.includes("Localnet Laboratory") && r.querySelector("[data-revoke]"));
		if (!row) return false;
		row.querySelector("[data-revoke]").click();
		return true;
	})()`, &clicked))
	if !clicked {
		t.Fatal("no Revoke button on the lab's consent")
	}
	pat.waitText("#notice", "revoked")

	// then the lab is refused, with the reason in plain words
	lb.lookup(alice)
	lb.run("open after revocation", chromedp.Click(`tr[data-record="`+id+`"] button`, chromedp.ByQuery))
	lb.waitText("#error", "The patient revoked your access")
	lb.screenshot("provider-refused-revoked")

	// the other main screens, for the docs: emergency access, the registry
	// entry, and the patient's records at phone width
	hosp.openTab("emergency")
	hosp.waitText("#glass-form", "Emergency access")
	hosp.screenshot("provider-emergency-access")
	hosp.openTab("registration")
	hosp.waitText("#main", "Credential expires")
	hosp.screenshot("provider-registration")
	pat.run("phone width", chromedp.EmulateViewport(390, 844))
	pat.openTab("records")
	pat.waitText(`tr[data-record="`+id+`"]`, "Lab results")
	pat.screenshot("patient-records-phone")
}

// startBrowsers signs each key's portal in, each in its own headless Chromium.
func startBrowsers(t testing.TB, chromium string, portals map[string]*network.Portal) map[string]*tab {
	t.Helper()
	shots := screenshotDir(t)
	tabs := map[string]*tab{}
	for who, p := range portals {
		profile := t.TempDir()
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.WindowSize(1280, 900), chromedp.UserDataDir(profile),
			chromedp.Flag("disable-dev-shm-usage", true))...)
		t.Cleanup(cancelAlloc)
		ctx, cancel := chromedp.NewContext(allocCtx)
		t.Cleanup(cancel)
		if err := chromedp.Run(ctx); err != nil {
			t.Fatalf("start Chromium (%s): %v", chromium, err)
		}
		tabs[who] = &tab{t: t, ctx: ctx, who: who, shot: shots, profile: profile}
		tabs[who].watch()
		tabs[who].run("sign in", chromedp.Navigate(p.Login), chromedp.WaitVisible("#tabs button", chromedp.ByQuery))
	}
	return tabs
}

// TestPortalEmergencyEraseAndOutages covers the rest of the portal in the
// browser: a FHIR Bundle filed by the hospital, break-glass by the clinic and
// its highlighted row in the patient's access log, erasing a record, and the
// messages shown when the vault or the node is down.
func TestPortalEmergencyEraseAndOutages(t *testing.T) {
	chromium := findChromium(t)
	n := network.StartNode(t)
	v := network.StartVault(t, n, network.VaultStoreFlags(t)...)
	alice, hospital := n.Address("alice"), n.Address("hospital")
	network.StartCustodian(t, n, n, "custodian1") // custodian2 joins later, custodian3 stays down
	tabs := startBrowsers(t, chromium, map[string]*network.Portal{
		"alice": network.StartPortal(t, n, "alice", v.URL), "hospital": network.StartPortal(t, n, "hospital", v.URL),
		"clinic": network.StartPortal(t, n, "clinic", v.URL),
	})
	pat, hosp, clinic := tabs["alice"], tabs["hospital"], tabs["clinic"]
	// alice's first login escrows her emergency class keys with the custodians
	pat.waitText("#notice", "Your emergency keys are escrowed with 3 custodians (2 needed")

	// the hospital files a two-resource FHIR Bundle under alice's write consent
	pat.grant(hospital, "read", "write")
	bundle := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(bundle, []byte(`{"resourceType":"Bundle","type":"collection","entry":[`+
		`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"potassium QX-1"}}},`+
		`{"resource":{"resourceType":"Observation","status":"final","code":{"text":"sodium QX-2"}}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	hosp.openTab("file")
	hosp.run("file the Bundle",
		chromedp.WaitVisible("#file-form", chromedp.ByQuery),
		chromedp.SetValue("#file-patient", alice, chromedp.ByQuery),
		chromedp.SetValue("#file-kind", "bundle", chromedp.ByQuery),
		chromedp.SetUploadFiles("#file-input", []string{bundle}, chromedp.ByQuery),
		chromedp.Click("#file-submit", chromedp.ByQuery))
	hosp.waitText("#notice", "Filed: record #1, #2.")

	// the clinic breaks the glass for alice through its portal
	clinic.openTab("emergency")
	clinic.run("break the glass",
		chromedp.WaitVisible("#glass-form", chromedp.ByQuery),
		chromedp.SetValue("#glass-patient", alice, chromedp.ByQuery),
		chromedp.SetValue("#glass-reason", "unconscious-patient", chromedp.ByQuery),
		chromedp.SendKeys("#glass-note", "ED admission", chromedp.ByQuery),
		chromedp.Click("#glass-form button[type=submit]", chromedp.ByQuery))
	clinic.waitText("#notice", "Emergency access #")
	clinic.screenshot("provider-emergency-access-opened")
	// and opens record 1 for ETREAT: it holds no key grant of alice's, so the
	// portal waits for the custodians' shares; one custodian is not enough
	clinic.openTab("patients")
	clinic.run("look up alice for ETREAT",
		chromedp.WaitVisible("#lookup-form", chromedp.ByQuery),
		chromedp.SetValue("#lookup-addr", alice, chromedp.ByQuery),
		chromedp.SetValue("#lookup-purpose", "ETREAT", chromedp.ByQuery),
		chromedp.Click("#lookup-submit", chromedp.ByQuery),
		chromedp.WaitNotPresent("#lookup-submit[aria-busy]", chromedp.ByQuery))
	clinic.waitText("#patient-records", "Lab results")
	clinic.run("open under break-glass", chromedp.Click(`tr[data-record="1"] button`, chromedp.ByQuery))
	clinic.waitText("#waiting-1", "Waiting for custodians (1 of 2)")
	clinic.screenshot("provider-emergency-waiting")
	// a second custodian comes up: the record opens, the exact original
	network.StartCustodian(t, n, n, "custodian2")
	clinic.waitText(`pre[data-record="1"]`, "potassium QX-1")
	clinic.screenshot("provider-emergency-read")
	// and the emergency summary shows it, and opens the other result under
	// the break-glass access with the released keys, one receipt more
	clinic.run("emergency summary", chromedp.Click("#show-summary", chromedp.ByQuery))
	clinic.waitText("#ips-results", "potassium QX-1")
	clinic.waitText("#ips-open", "Open the record of these kinds (each read is recorded for ETREAT)")
	clinic.run("open the rest", chromedp.Click("#ips-open", chromedp.ByQuery))
	clinic.waitText("#notice", "1 record opened for ETREAT")
	clinic.waitText("#ips-results", "sodium QX-2")
	clinic.screenshot("provider-emergency-summary-break-glass")

	// alice sees the emergency read highlighted, pending review, with the note
	pat.openTab("access")
	row := pat.waitText("#receipts tr.emergency", "Localnet Family Clinic")
	for _, want := range []string{"emergency", "review: pending", "ED admission", "ETREAT"} {
		if !strings.Contains(row, want) {
			t.Fatalf("alice's emergency row %q lacks %q", row, want)
		}
	}
	// and the two custodians' releases of her keys to the clinic
	releases := pat.waitText("#key-releases", "Localnet Family Clinic")
	if strings.Count(releases, "emergency access #") != 2 {
		t.Fatalf("alice's key-release log: %q, want 2 releases", releases)
	}
	pat.screenshot("patient-access-log-emergency")
	// and rotates the released keys: new epochs, escrowed again
	pat.run("rotate the released keys", chromedp.Click("#rotate-keys", chromedp.ByQuery))
	pat.waitText("#notice", "the new keys are escrowed with the custodians")
	var epochs struct {
		Epochs []struct {
			DataClass string `json:"data_class"`
			Epoch     string `json:"epoch"`
		} `json:"epochs"`
	}
	n.CLIJSON(&epochs, "query", "consent", "key-epochs", alice)
	if len(epochs.Epochs) != 6 {
		t.Fatalf("after the rotation: %+v, want the 6 released classes at epoch 2", epochs)
	}
	var escrow struct {
		Stale  bool `json:"stale"`
		Escrow struct {
			Classes []struct {
				Epoch string `json:"epoch"`
			} `json:"classes"`
		} `json:"escrow"`
	}
	n.CLIJSON(&escrow, "query", "consent", "escrow", alice)
	if escrow.Stale || len(escrow.Escrow.Classes) != 6 || escrow.Escrow.Classes[0].Epoch != "2" {
		t.Fatalf("alice's escrow after the rotation: %+v", escrow)
	}

	// alice erases record 2, after the warning
	pat.openTab("records")
	pat.run("erase record 2", chromedp.Click(`tr[data-record="2"] button[aria-expanded]`, chromedp.ByQuery))
	pat.waitText(`tr[data-record="2"] .confirm`, "Erase this record for good?")
	pat.screenshot("patient-erase-warning")
	pat.run("confirm", chromedp.Click(`tr[data-record="2"] .confirm button.danger`, chromedp.ByQuery))
	pat.waitText("#notice", "Record #2 was erased.")
	pat.waitText(`tr[data-record="2"]`, "erased")

	// with the vault down, the hospital is told so in plain words
	hosp.lookup(alice)
	hosp.waitText(`tr[data-record="2"]`, "erased")
	v.Kill()
	hosp.run("open with the vault down", chromedp.Click(`tr[data-record="1"] button`, chromedp.ByQuery))
	hosp.waitText("#error", "The record vault cannot be reached")
	v.Restart()

	// and with the node down too
	n.Stop()
	hosp.run("look up with the node down", chromedp.Click("#lookup-submit", chromedp.ByQuery))
	hosp.waitText("#error", "The healthd node cannot be reached")
	hosp.screenshot("provider-node-down")
}
