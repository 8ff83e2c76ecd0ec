package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/healthd-chain/healthd/fhir"
	"github.com/healthd-chain/healthd/testutil/network"
)

// timelineResources is the size of the varied history the timeline test
// imports: the synthetic benchmark patient, every common resource type.
const timelineResources = 300

// TestPortalTimeline drives a patient's timeline in headless Chromium: the
// hospital imports a varied FHIR Bundle of 300 resources for alice; alice's
// portal decrypts and summarises her records locally, without taking a single
// receipt; she finds a glucose result by search, filters by kind and year,
// opens it and reads its value, unit and reference range, pages through,
// exports a selection as a Bundle, and signs out. Afterwards no decrypted
// text is on disk: not in the portal's home or temporary folder, not in the
// browser's profile.
func TestPortalTimeline(t *testing.T) {
	chromium := findChromium(t)
	n := network.StartNode(t)
	v := network.StartVault(t, n)
	alice, hospital := n.Address("alice"), n.Address("hospital")
	kr := []string{"--keyring-backend", "test"}

	// given the hospital may write every class of the Bundle, and imports it
	classes := "diagnosis,lab-result,vital-signs,prescription,allergy,immunization,procedure,clinical-note,other"
	grants := strings.Fields(n.CLI(append([]string{"records", "key-grants", hospital, "--classes", classes, "--from", "alice"}, kr...)...))
	n.CLI(append([]string{
		"tx", "consent", "grant", hospital, "--classes", classes, "--purposes", "TREAT", "--permissions", "read,write",
		"--expires", "720h", "--from", "alice", "--yes", "--gas", "auto", "--gas-adjustment", "1.5",
	}, grants...)...)
	raw, err := fhir.SyntheticBundle(timelineResources, 21)
	if err != nil {
		t.Fatal(err)
	}
	bundleFile := filepath.Join(t.TempDir(), "history.json")
	if err := os.WriteFile(bundleFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	var imported struct {
		Committed []json.RawMessage `json:"committed"`
	}
	n.CLIJSON(&imported, append([]string{"fhir", "import", bundleFile, "--patient", alice, "--vault", v.URL, "--from", "hospital", "--output", "json"}, kr...)...)
	if len(imported.Committed) != timelineResources {
		t.Fatalf("imported %d of %d resources", len(imported.Committed), timelineResources)
	}
	want := expectTimeline(t, raw)
	receiptsBefore := len(receiptsOf(t, n, alice))

	// alice's portal, with its own temporary folder to scan afterwards
	portalTmp := t.TempDir()
	portal := network.StartPortalEnv(t, n, "alice", v.URL, "TMPDIR="+portalTmp)
	pat := startBrowsers(t, chromium, map[string]*network.Portal{"alice": portal})["alice"]
	var a11y audit
	defer a11y.report(t)

	// at her first visit she is shown how the portal works; with the
	// keyboard only, she goes on to her records, searches and opens one
	pat.waitText("#main", "Where your records are")
	a11y.check(pat, "patient: help (first run)")
	pat.screenshot("patient-help")
	pat.tabTo("#help-done")
	pat.key("go to my records", kb.Enter)
	pat.waitText("#tl-range", fmt.Sprintf("1–50 of %d", timelineResources))
	a11y.check(pat, "patient: my records")
	pat.tabTo("#tl-q")
	pat.key("search by keyboard", "glucose", kb.Enter)
	pat.waitText("#tl-range", fmt.Sprintf("of %d (of %d records)", want.glucose, timelineResources))
	pat.tabTo(`#timeline button[aria-label^="View"]`)
	pat.key("open by keyboard", kb.Enter)
	pat.waitText("#opened .record-view", "Reference range")
	a11y.check(pat, "patient: record view")
	pat.run("clear the search", chromedp.Click("#tl-clear", chromedp.ByQuery))

	// when she opens her records, the first page of the timeline shows what
	// each record is, newest first, with the hospital's name
	pat.openTab("records")
	pat.waitText("#tl-range", fmt.Sprintf("1–50 of %d", timelineResources))
	first := pat.waitText("#timeline tbody", "Localnet General Hospital")
	if !strings.Contains(first, want.newestTitle) {
		t.Fatalf("the newest record %q is not on the first page:\n%s", want.newestTitle, first)
	}
	pat.screenshot("patient-timeline")

	// and she finds her glucose results by search
	pat.run("search for glucose", chromedp.SetValue("#tl-q", "glucose", chromedp.ByQuery), chromedp.Click("#tl-apply", chromedp.ByQuery))
	pat.waitText("#tl-range", fmt.Sprintf("of %d (of %d records)", want.glucose, timelineResources))
	rows := pat.rowTexts()
	for _, r := range rows {
		if !strings.Contains(r, "Glucose") {
			t.Fatalf("a search for glucose shows %q", r)
		}
	}
	pat.screenshot("patient-timeline-search")

	// and opens the newest one: its value, unit and reference range, next to the raw resource
	pat.run("view the newest glucose result", chromedp.Click(`#timeline tr[data-record] button[aria-label^="View"]`, chromedp.ByQuery))
	view := pat.waitText("#opened .record-view", "Reference range")
	for _, s := range []string{"Glucose", want.glucoseValue + " mg/dL", want.glucoseRange, "your own record"} {
		if !strings.Contains(view, s) {
			t.Fatalf("the record view lacks %q:\n%s", s, view)
		}
	}
	pat.waitText(`#opened pre[data-record]`, `"resourceType": "Observation"`)
	pat.screenshot("patient-record-view")

	// and filters by kind and year
	pat.run("clear the filters", chromedp.Click("#tl-clear", chromedp.ByQuery))
	pat.waitText("#tl-range", fmt.Sprintf("1–50 of %d", timelineResources))
	pat.run("lab results only", chromedp.Click(`.chips button[data-class="lab-result"]`, chromedp.ByQuery))
	pat.waitText("#tl-range", fmt.Sprintf("of %d (of %d records)", want.byClass["lab-result"], timelineResources))
	pat.run("and one year", chromedp.SetValue("#tl-year", strconv.Itoa(want.year), chromedp.ByQuery), chromedp.Click("#tl-apply", chromedp.ByQuery))
	pat.waitText("#tl-range", fmt.Sprintf("of %d (of %d records)", want.labsInYear, timelineResources))
	for _, r := range pat.rowTexts() {
		if !strings.Contains(r, strconv.Itoa(want.year)) || !strings.Contains(r, "Lab results") {
			t.Fatalf("lab results of %d show %q", want.year, r)
		}
	}

	// and pages through everything, each record once
	pat.run("clear the filters again", chromedp.Click("#tl-clear", chromedp.ByQuery))
	pat.waitText("#tl-range", fmt.Sprintf("1–50 of %d", timelineResources))
	seen := map[string]bool{}
	for page := 1; ; page++ {
		ids := pat.rowIDs()
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("record %s shown twice (page %d)", id, page)
			}
			seen[id] = true
		}
		if len(seen) >= timelineResources {
			break
		}
		pat.run("next page", chromedp.Click("#tl-next", chromedp.ByQuery))
		pat.waitText("#tl-range", fmt.Sprintf("%d–", page*50+1))
	}
	if len(seen) != timelineResources {
		t.Fatalf("paging showed %d records of %d", len(seen), timelineResources)
	}

	// and exports two records as a FHIR Bundle
	var entries int
	var ticked int
	pat.run("select two and export",
		chromedp.Evaluate(`(() => { const boxes = [...document.querySelectorAll("#timeline tr[data-record] input[type=checkbox]")].slice(1, 3);
			boxes.forEach(b => b.click()); return boxes.filter(b => b.checked).length; })()`, &ticked),
		chromedp.Click("#export-selected", chromedp.ByQuery), chromedp.WaitVisible("#export-link", chromedp.ByQuery),
		chromedp.Evaluate(`Number(document.querySelector("#export-link").dataset.entries)`, &entries))
	if ticked != 2 || entries != 2 {
		t.Fatalf("the exported Bundle has %d entries, want 2 (%d ticked)", entries, ticked)
	}

	// and her emergency summary has every allergy, current medication,
	// active problem and immunization, and the newest of each vital sign and
	// lab test
	pat.openTab("summary")
	for sec, n := range map[string]int{
		"allergies": want.allergies, "medications": want.medications, "problems": want.problems,
		"vitals": want.vitalTests, "results": want.labTests, "immunizations": want.immunizations,
	} {
		var items int
		pat.run("count "+sec, chromedp.WaitVisible("#ips-"+sec, chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelectorAll("#ips-`+sec+` li").length`, &items))
		if items != n {
			t.Errorf("alice's summary shows %d %s, want %d", items, sec, n)
		}
	}
	pat.screenshot("patient-emergency-summary")
	a11y.check(pat, "patient: emergency summary")
	for _, tab := range []string{"sharing", "access", "delegates"} {
		pat.openTab(tab)
		a11y.check(pat, "patient: "+tab)
	}

	// and none of it took a receipt: her own reads are not disclosures
	if after := len(receiptsOf(t, n, alice)); after != receiptsBefore {
		t.Fatalf("alice's timeline took %d receipts", after-receiptsBefore)
	}

	// a provider sees what each record is only once it has opened it: the
	// hospital opens one (a receipt alice sees) ...
	hosp := startBrowsers(t, chromium, map[string]*network.Portal{"hospital": network.StartPortal(t, n, "hospital", v.URL)})["hospital"]
	hosp.waitText("#main", "For providers")
	a11y.check(hosp, "provider: help (first run)")
	hosp.screenshot("provider-help")
	hosp.lookup(alice)
	a11y.check(hosp, "provider: patient's records")
	hosp.waitText("#timeline tbody", "(not opened)")
	hosp.run("open the newest record", chromedp.Click(`#timeline tr[data-record] button`, chromedp.ByQuery))
	hosp.waitText("#notice", "The patient can see this read")
	receipts := receiptsOf(t, n, alice)
	if len(receipts) != receiptsBefore+1 || receipts[len(receipts)-1].Accessor != hospital {
		t.Fatalf("the hospital's read: receipts %+v", receipts[receiptsBefore:])
	}
	openedID := receipts[len(receipts)-1].RecordID
	// ... and a new portal of the hospital (nothing cached) shows that record's
	// content from the fresh receipt, the others not, without a new receipt
	hosp2 := startBrowsers(t, chromium, map[string]*network.Portal{"hospital": network.StartPortal(t, n, "hospital", v.URL)})["hospital"]
	hosp2.lookup(alice)
	notOpened := 0
	for _, r := range hosp2.rowTexts() {
		if strings.Contains(r, "(not opened)") {
			notOpened++
		}
	}
	if notOpened != 50 { // the opened one has moved to its clinical date, further down
		t.Fatalf("%d rows of the hospital's first page are not opened, want 50", notOpened)
	}
	title := hosp.waitText("#opened h2", "")
	hosp2.run("search what it opened", chromedp.SetValue("#tl-q", title, chromedp.ByQuery), chromedp.Click("#tl-apply", chromedp.ByQuery))
	hosp2.waitText("#tl-range", fmt.Sprintf("1–1 of 1 (of %d records)", timelineResources))
	if ids := hosp2.rowIDs(); len(ids) != 1 || ids[0] != openedID {
		t.Fatalf("the hospital's search for %q finds %v, want record %s", title, ids, openedID)
	}
	if after := len(receiptsOf(t, n, alice)); after != receiptsBefore+1 {
		t.Fatalf("looking a patient up took %d receipts", after-receiptsBefore-1)
	}
	hosp2.screenshot("provider-timeline")

	// and the hospital's emergency summary opens the records of its kinds
	// from one button, each read recorded
	hosp2.run("clear the search", chromedp.Click("#tl-clear", chromedp.ByQuery))
	hosp2.run("show the emergency summary", chromedp.Click("#show-summary", chromedp.ByQuery))
	hosp2.waitText("#ips-open", "each read is recorded for TREAT")
	hosp2.run("open the summary's records", chromedp.Click("#ips-open", chromedp.ByQuery))
	hosp2.waitText("#notice", "records opened for TREAT")
	var allergies int
	hosp2.run("count the allergies", chromedp.WaitNotPresent("#ips-open", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("#ips-allergies li").length`, &allergies))
	if allergies != want.allergies {
		t.Fatalf("the hospital's summary shows %d allergies, want %d", allergies, want.allergies)
	}
	if got := len(receiptsOf(t, n, alice)) - receiptsBefore - 1; got != want.summaryRecords-1 && got != want.summaryRecords {
		t.Fatalf("the hospital's summary took %d receipts, want one per record of its kinds (%d)", got, want.summaryRecords)
	}
	hosp2.screenshot("provider-emergency-summary")
	a11y.check(hosp2, "provider: emergency summary")

	// and the hospital, author of the records, files a corrected version of one
	hosp2.run("back to the records", chromedp.Click("#show-timeline", chromedp.ByQuery))
	hosp2.run("open a record", chromedp.WaitVisible("#timeline", chromedp.ByQuery), chromedp.Click(`#timeline tr[data-record] button`, chromedp.ByQuery))
	original := hosp2.waitText(`#opened pre[data-record]`, `"id": "`)
	var amendID string
	hosp2.run("which record", chromedp.Evaluate(`document.querySelector("#opened pre[data-record]").dataset.record`, &amendID))
	corrected := filepath.Join(t.TempDir(), "corrected.json")
	if err := os.WriteFile(corrected, []byte(strings.Replace(original, `"id": "`, `"id": "corrected-`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	hosp2.run("file the correction", chromedp.SetUploadFiles("#amend-file-"+amendID, []string{corrected}, chromedp.ByQuery),
		chromedp.Click("#amend-submit-"+amendID, chromedp.ByQuery))
	hosp2.waitText("#notice", "Record #"+amendID+" corrected: the current version is record #")
	var old struct {
		Record recordView `json:"record"`
	}
	if err := n.GetJSON("/healthd/records/v1/records/"+amendID, &old); err != nil || old.Record.Status != "RECORD_STATUS_SUPERSEDED" {
		t.Fatalf("the corrected record: %+v %v", old.Record, err)
	}
	for _, tab := range []string{"file", "emergency", "registration"} {
		hosp2.openTab(tab)
		a11y.check(hosp2, "provider: "+tab)
	}

	// when she signs out, the portal answers nothing more to that browser
	pat.run("sign out", chromedp.Click("#logout", chromedp.ByQuery))
	pat.waitText("#signed-out", "forgotten everything it decrypted")
	a11y.check(pat, "signed out")
	var status int
	pat.run("ask after signing out", chromedp.Evaluate(`fetch("/api/timeline").then(r => r.status)`, &status,
		awaitPromise))
	if status != 401 {
		t.Fatalf("the timeline after signing out: HTTP %d, want 401", status)
	}

	// then no decrypted text is on disk: the portal's home and temporary
	// folder, and the browser's profile (cache, storage, session)
	if err := chromedp.Cancel(pat.ctx); err != nil {
		t.Fatalf("close the browser: %v", err)
	}
	if hit := findPlaintext(t, filepath.Dir(bundleFile), want.needles); hit == "" {
		t.Fatal("the scan finds nothing even in the imported Bundle: it would prove nothing")
	}
	for _, dir := range []string{n.Home, portalTmp, pat.profile} {
		if hit := findPlaintext(t, dir, want.needles); hit != "" {
			t.Fatalf("decrypted text on disk: %s", hit)
		}
	}
}

// awaitPromise makes chromedp.Evaluate wait for the promise's value.
func awaitPromise(p *cdpruntime.EvaluateParams) *cdpruntime.EvaluateParams {
	return p.WithAwaitPromise(true)
}

// timelineExpectations are what the timeline should show of the bundle,
// read from its JSON here, independently of the portal's code.
type timelineExpectations struct {
	newestTitle                string
	allergies, medications     int
	problems, immunizations    int
	vitalTests, labTests       int
	summaryRecords             int
	glucose                    int
	glucoseValue, glucoseRange string
	byClass                    map[string]int
	year, labsInYear           int
	needles                    []string
}

func expectTimeline(t *testing.T, raw []byte) timelineExpectations {
	t.Helper()
	p, err := fhir.ParseBundle(raw)
	if err != nil {
		t.Fatal(err)
	}
	e := timelineExpectations{byClass: map[string]int{}}
	labYears := map[int]int{}
	vitals, labTests := map[string]bool{}, map[string]bool{}
	allergies, meds, problems := map[string]bool{}, map[string]bool{}, map[string]bool{}
	newest := ""
	for i, res := range p.Resources {
		var r struct {
			Code struct {
				Text string `json:"text"`
			} `json:"code"`
			Medication struct {
				Text string `json:"text"`
			} `json:"medicationCodeableConcept"`
			Effective string `json:"effectiveDateTime"`
			Value     struct {
				Value json.Number `json:"value"`
			} `json:"valueQuantity"`
			Range []struct {
				Low, High struct {
					Value json.Number `json:"value"`
				}
			} `json:"referenceRange"`
		}
		if err := json.Unmarshal(res, &r); err != nil {
			t.Fatal(err)
		}
		e.byClass[p.Classes[i]]++
		switch p.Types[i] {
		case "AllergyIntolerance":
			allergies[r.Code.Text] = true
		case "MedicationRequest": // all active in the synthetic history, one line per drug
			meds[r.Medication.Text] = true
		case "Condition": // all active, one line per condition
			problems[r.Code.Text] = true
		case "Immunization":
			e.immunizations++
		case "Observation":
			if p.Classes[i] == "vital-signs" {
				vitals[r.Code.Text] = true
			} else if p.Classes[i] == "lab-result" {
				labTests[r.Code.Text] = true
			}
		}
		switch p.Classes[i] {
		case "allergy", "prescription", "diagnosis", "vital-signs", "lab-result", "immunization":
			e.summaryRecords++
		}
		if r.Code.Text == "Glucose" {
			e.glucose++
			// the bundle is in date order, so the last glucose is the newest
			e.glucoseValue = r.Value.Value.String()
			e.glucoseRange = r.Range[0].Low.Value.String() + " – " + r.Range[0].High.Value.String() + " mg/dL"
		}
		if p.Classes[i] == "lab-result" && len(r.Effective) >= 4 {
			y, _ := strconv.Atoi(r.Effective[:4])
			labYears[y]++
		}
		if p.Types[i] == "Observation" && r.Effective >= newest {
			newest, e.newestTitle = r.Effective, r.Code.Text
		}
	}
	e.vitalTests, e.labTests = len(vitals), len(labTests)
	e.allergies, e.medications, e.problems = len(allergies), len(meds), len(problems)
	for y, c := range labYears {
		if c > e.labsInYear {
			e.year, e.labsInYear = y, c
		}
	}
	if e.glucose == 0 || e.labsInYear == 0 {
		t.Fatalf("the bundle has no glucose result or no lab results: %+v", e)
	}
	// the decrypted text that must never reach a disk: names of tests,
	// medications and conditions the timeline and the record view showed
	e.needles = []string{"Hemoglobin A1c", "Metformin 500 MG", "Diabetes mellitus type 2", "Systolic blood pressure", "Body temperature"}
	return e
}

// rowTexts are the texts of the timeline's record rows.
func (b *tab) rowTexts() []string {
	b.t.Helper()
	var rows []string
	b.run("read the rows", chromedp.Evaluate(`[...document.querySelectorAll("#timeline tr[data-record]")].map(r => r.innerText)`, &rows))
	if len(rows) == 0 {
		b.t.Fatalf("%s: the timeline has no rows (%s)", b.who, b.messages())
	}
	return rows
}

// rowIDs are the record ids of the timeline's rows.
func (b *tab) rowIDs() []string {
	b.t.Helper()
	var ids []string
	b.run("read the row ids", chromedp.Evaluate(`[...document.querySelectorAll("#timeline tr[data-record]")].map(r => r.dataset.record)`, &ids))
	return ids
}

// findPlaintext walks dir for any needle, as UTF-8 or UTF-16 (Chromium keeps
// some storage in UTF-16), and says where it found one ("" if nowhere).
func findPlaintext(t *testing.T, dir string, needles []string) string {
	t.Helper()
	var forms [][]byte
	for _, n := range needles {
		forms = append(forms, []byte(n))
		var u16 bytes.Buffer
		for _, r := range utf16.Encode([]rune(n)) {
			u16.WriteByte(byte(r))
			u16.WriteByte(byte(r >> 8))
		}
		forms = append(forms, u16.Bytes())
	}
	found := ""
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return nil // a file that vanished or cannot be read: Chromium's sockets and locks
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for i, f := range forms {
			if bytes.Contains(b, f) {
				found = fmt.Sprintf("%q in %s", needles[i/2], path)
				return fs.SkipAll
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
