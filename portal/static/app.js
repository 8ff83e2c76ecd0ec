// healthd portal. No framework, no third-party code: the page builds its DOM
// with el() (text is always set as text, never parsed as HTML) and talks only
// to the healthd portal process that served it.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const state = { session: null, tab: null, lookup: "" };

// el builds an element: el("button", {class: "x", onclick: f}, "text", child…)
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function fmtTime(t) {
  if (!t || t.startsWith("0001-")) return "—";
  const d = new Date(t);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
function fmtDate(t) {
  if (!t || t.startsWith("0001-")) return "—";
  return new Date(t).toLocaleDateString(undefined, { dateStyle: "medium" });
}
function short(addr) { return addr.length > 20 ? addr.slice(0, 12) + "…" + addr.slice(-6) : addr; }
function who(p) {
  if (!p) return "—";
  if (p.name === "you") return el("span", {}, "you");
  if (p.name) return el("span", { title: p.address }, p.name, p.kind ? el("span", { class: "muted" }, " (" + p.kind + ")") : null);
  return el("span", { class: "addr", title: p.address }, short(p.address));
}
// dataTable builds a table whose cells carry their column's name, so that at
// phone width each row becomes a card ("Kind: lab-result").
function dataTable(attrs, headers, rows) {
  for (const tr of rows) [...tr.children].forEach((td, i) => { if (headers[i]) td.setAttribute("data-label", headers[i]); });
  return el("div", { class: "table-wrap" }, el("table", Object.assign({ class: "rows" }, attrs),
    el("thead", {}, el("tr", {}, headers.map(h => el("th", { scope: "col" }, h || el("span", { class: "sr-only" }, "Actions"))))), el("tbody", {}, rows)));
}
function tag(text, cls) { return el("span", { class: "tag " + (cls || text) }, text); }

// ---- messages ----
function notify(msg) {
  const n = document.getElementById("notice");
  n.textContent = msg;
  n.hidden = !msg;
  if (msg) document.getElementById("error").hidden = true;
}
function fail(err) {
  const box = document.getElementById("error");
  box.replaceChildren(el("strong", {}, err.message || String(err)),
    err.detail ? el("details", {}, el("summary", {}, "Technical detail"), err.detail) : null);
  box.hidden = false;
  document.getElementById("notice").hidden = true;
  box.scrollIntoView({ block: "nearest" });
}
function clearMessages() {
  document.getElementById("notice").hidden = true;
  document.getElementById("error").hidden = true;
}

// ---- API ----
class APIError extends Error {
  constructor(body, status) {
    super(body.error || ("HTTP " + status));
    this.code = body.code; this.detail = body.detail; this.status = status; this.body = body;
  }
}
async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  let resp;
  try { resp = await fetch(path, opts); } catch (e) {
    throw new APIError({ code: "portal_unreachable", error: "The portal process is not answering. Is `healthd portal` still running?" }, 0);
  }
  return decode(resp);
}
async function decode(resp) {
  const type = resp.headers.get("Content-Type") || "";
  if (!resp.ok) {
    const body = type.includes("json") ? await resp.json().catch(() => ({})) : {};
    throw new APIError(body, resp.status);
  }
  return type.includes("json") ? resp.json() : resp;
}

// busy disables a button while work runs and shows what is happening.
async function busy(button, label, work) {
  const old = button.textContent;
  button.disabled = true; button.textContent = label;
  button.setAttribute("aria-busy", "true");
  try { return await work(); } finally {
    button.disabled = false; button.textContent = old; button.removeAttribute("aria-busy");
  }
}

// ---- tabs ----
function tabsFor(s) {
  const tabs = [];
  if (s.patient) {
    tabs.push(["records", "My records"], ["summary", "Emergency summary"], ["sharing", "Sharing"], ["access", "Who read my data"], ["delegates", "Delegates"]);
  }
  if (s.provider) {
    tabs.push(["patients", "Patients"], ["file", "File a record"], ["emergency", "Emergency access"], ["registration", "My registration"]);
  }
  if (!s.patient && !s.provider) tabs.push(["none", "Account"]);
  return tabs;
}
function renderTabs() {
  const nav = document.getElementById("tabs");
  const tabs = tabsFor(state.session);
  nav.replaceChildren(...tabs.map(([id, label]) => el("button", {
    role: "tab", id: "tab-" + id, "aria-selected": String(state.tab === id), "aria-controls": "main",
    tabindex: state.tab === id || (!tabs.some(t => t[0] === state.tab) && id === tabs[0][0]) ? "0" : "-1", onclick: () => show(id),
    onkeydown: (ev) => {
      const i = tabs.findIndex(t => t[0] === id);
      if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
        const j = (i + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
        show(tabs[j][0]); document.getElementById("tab-" + tabs[j][0]).focus();
      }
    },
  }, label)));
}
async function show(id) {
  state.tab = id;
  clearMessages();
  renderTabs();
  const main = document.getElementById("main");
  main.replaceChildren(el("p", { class: "loading" }, "Loading…"));
  main.setAttribute("aria-busy", "true");
  try {
    const view = await views[id]();
    main.replaceChildren(...[view].flat(Infinity).filter(x => x !== null && x !== undefined && x !== false));
  } catch (e) {
    main.replaceChildren(el("p", { class: "muted" }, "This section could not be loaded."));
    fail(e);
  } finally { main.removeAttribute("aria-busy"); }
}

// ---- shared pieces ----
function checkboxes(name, legend, values, checked) {
  return el("fieldset", {}, el("legend", {}, legend),
    values.map(v => el("label", {}, el("input", { type: "checkbox", name, value: v, checked: (checked || []).includes(v) }), v)));
}
function checked(form, name) { return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map(i => i.value); }
function field(id, label, input, hint) {
  input.id = id;
  return el("div", { class: "field" }, el("label", { for: id }, label), input, hint ? el("span", { class: "muted" }, hint) : null);
}
function select(values, selected) {
  return el("select", {}, values.map(v => el("option", { value: v, selected: v === selected }, v)));
}

// amendForm files a corrected version of a record its author opened.
function amendForm(id, purpose, rerender) {
  const input = el("input", { type: "file", required: true });
  const form = el("form", { class: "amend", id: "amend-" + id },
    el("h3", {}, "Correct this record"),
    el("p", { class: "hint" }, "File a corrected version: it becomes the current one, and this one stays in the record's history. Both are encrypted here first."),
    field("amend-file-" + id, "Corrected file (the same FHIR resource type)", input),
    el("button", { type: "submit", id: "amend-submit-" + id }, "File the corrected version"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (!input.files.length) { fail({ message: "Choose the corrected file." }); return; }
    busy(form.querySelector("button"), "Filing… (waiting for the chain)", async () => {
      const body = new FormData();
      body.append("purpose", purpose);
      body.append("file", input.files[0]);
      const resp = await fetch(`/api/records/${id}/amend`, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }, body });
      const r = await decode(resp);
      if (rerender) await rerender();
      notify(`Record #${id} corrected: the current version is record #${r.record_id}.`);
    }).catch(fail);
  });
  return form;
}

// ---- patient views ----
const views = {};

// Friendly names of the data classes, in the order the timeline groups them.
const classLabels = {
  "allergy": "Allergies", "prescription": "Medications", "diagnosis": "Conditions", "lab-result": "Lab results",
  "vital-signs": "Vital signs", "immunization": "Immunizations", "procedure": "Procedures", "clinical-note": "Notes",
  "imaging": "Imaging", "mental-health": "Mental health", "genomic": "Genomics", "other": "Other",
};
const classLabel = (c) => classLabels[c] || c;
const statusLabels = { current: "Current and erased", active: "Current only", superseded: "Earlier versions", erased: "Erased", all: "All" };

// fmtWhen shows a clinical date as written (a FHIR date may be just a year or
// a month), or a filing time.
function fmtWhen(it) {
  const w = it.when || "";
  if (/^\d{4}$/.test(w)) return w;
  if (/^\d{4}-\d{2}$/.test(w)) return new Date(w + "-01T00:00:00Z").toLocaleDateString(undefined, { year: "numeric", month: "long", timeZone: "UTC" });
  if (/^\d{4}-\d{2}-\d{2}$/.test(w)) return new Date(w + "T00:00:00Z").toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" });
  return fmtDate(w);
}

// The timeline's filters, kept while the person moves between pages and tabs:
// one set for the patient's own records, one for the patient a provider
// looks up.
const noFilters = { q: "", class: "", year: "", author: "", status: "current", from: "", to: "", page: 1 };
state.timeline = Object.assign({}, noFilters);
state.ptimeline = Object.assign({}, noFilters);

views.records = async () => [el("h1", {}, "My records"),
  el("p", { class: "hint" }, "Everything filed about you, newest first by the date it happened. The portal decrypts your records here, " +
    "on this computer: reading your own records is not recorded as a disclosure, and nothing you search for leaves this machine."),
  await timelineSection({ own: true, f: state.timeline, purpose: "PATRQT", rerender: () => show("records") })];

// timelineSection is a patient's timeline: kinds of data at a glance, search
// and filters, the records of one page under a heading per year, a pager,
// and where a record opens. opts: own (the viewer's own records), patient
// and purpose (a provider's lookup), f (the filters), rerender.
async function timelineSection(opts) {
  const f = opts.f;
  const params = new URLSearchParams();
  for (const k of ["q", "class", "year", "author", "status", "from", "to", "page"]) if (f[k]) params.set(k, f[k]);
  if (!opts.own) { params.set("patient", opts.patient); params.set("purpose", opts.purpose); }
  const data = await api("GET", "/api/timeline?" + params.toString());
  const opened = el("div", { id: "opened" });
  const reload = (changes) => { Object.assign(f, changes); return opts.rerender(); };

  // search and filters: a form, so Enter applies them
  const facetSelect = (id, label, name, values, fmt) => field(id, label, el("select", { name },
    el("option", { value: "" }, "All"),
    values.map(v => el("option", { value: v.value, selected: String(f[name]) === v.value }, fmt(v) + " (" + v.count + ")"))));
  const form = el("form", { class: "card filters", id: "timeline-filters", role: "search", "aria-label": "Search and filter the records" },
    el("div", { class: "filter-row" },
      field("tl-q", opts.own ? "Search your records" : "Search the records you have opened",
        el("input", { type: "search", name: "q", value: f.q, placeholder: "e.g. glucose, penicillin, Tdap", autocomplete: "off" })),
      el("button", { type: "submit", id: "tl-apply" }, "Search")),
    el("div", { class: "filter-row" },
      facetSelect("tl-class", "Kind of data", "class", data.facets.classes, v => classLabel(v.value)),
      facetSelect("tl-year", "Year", "year", data.facets.years, v => v.value),
      facetSelect("tl-author", "Filed by", "author", data.facets.authors, v => v.label || short(v.value)),
      field("tl-status", "Status", el("select", { name: "status" },
        Object.entries(statusLabels).map(([v, l]) => el("option", { value: v, selected: f.status === v }, l)))),
      field("tl-from", "From", el("input", { type: "date", name: "from", value: f.from })),
      field("tl-to", "To", el("input", { type: "date", name: "to", value: f.to }))),
    el("button", { type: "button", class: "secondary", id: "tl-clear", onclick: () => reload(Object.assign({}, noFilters)) }, "Clear filters"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = Object.fromEntries(new FormData(form).entries());
    reload(Object.assign(v, { page: 1 }));
  });
  form.querySelectorAll("select").forEach(sel => sel.addEventListener("change", () => form.requestSubmit()));

  // the kinds of data as chips: a group at a glance, a click filters to it
  const order = Object.keys(classLabels);
  const chips = el("ul", { class: "chips", "aria-label": "Records by kind of data" },
    [...data.facets.classes].sort((a, b) => order.indexOf(a.value) - order.indexOf(b.value)).map(c => el("li", {}, el("button", {
      class: "chip" + (f.class === c.value ? " on" : ""), "aria-pressed": String(f.class === c.value), "data-class": c.value,
      onclick: () => reload({ class: f.class === c.value ? "" : c.value, page: 1 }),
    }, classLabel(c.value) + " ", el("span", { class: "count" }, String(c.count))))));

  const selected = new Set();
  const exportBox = el("span", { class: "export-box" });
  const exportButton = opts.own ? el("button", { class: "secondary", id: "export-selected", disabled: true, onclick: (ev) => busy(ev.target, "Exporting…", async () => {
    const resp = await fetch("/api/export", { method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" }, body: JSON.stringify({ record_ids: [...selected] }) });
    if (!resp.ok) throw new APIError(await resp.json().catch(() => ({})), resp.status);
    const text = await resp.text();
    const entries = JSON.parse(text).entry.length;
    const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "application/fhir+json" })), download: "healthd-export.json",
      id: "export-link", "data-entries": String(entries) }, `Download the FHIR Bundle (${entries} records)`);
    exportBox.replaceChildren(a);
    notify(`${entries} records exported as a FHIR Bundle, decrypted on this computer.`);
  }).catch(fail) }, "Export selected as a FHIR Bundle") : null;

  // the rows, under a heading per year (the list is newest first)
  const rows = [];
  let year = null;
  for (const it of data.items) {
    if (it.year !== year) {
      year = it.year;
      rows.push(el("tr", { class: "year" }, el("th", { colspan: "6", scope: "rowgroup" }, String(year))));
    }
    rows.push(timelineRow(it, opts, opened, selected, () => { exportButton.disabled = selected.size === 0; }));
  }
  const from = data.total ? (data.page - 1) * data.per_page + 1 : 0;
  const pager = el("nav", { class: "pager", "aria-label": "Pages" },
    el("button", { class: "secondary", id: "tl-prev", disabled: data.page <= 1, onclick: () => reload({ page: data.page - 1 }) }, "← Newer"),
    el("span", { id: "tl-range", role: "status" }, data.total ? `${from}–${from + data.items.length - 1} of ${data.total}` : "0 of 0",
      data.all !== data.total ? ` (of ${data.all} records)` : ""),
    el("button", { class: "secondary", id: "tl-next", disabled: data.page >= data.pages, onclick: () => reload({ page: data.page + 1 }) }, "Older →"));
  return [chips, form,
    data.items.length ? el("div", { class: "table-wrap" }, el("table", { class: "rows timeline", id: "timeline" },
      el("thead", {}, el("tr", {}, [el("span", { class: "sr-only" }, "Select"), "Date", "What", "Kind", "Filed by", el("span", { class: "sr-only" }, "Actions")]
        .map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows)))
      : el("p", { class: "muted", id: "no-records" }, data.all ? "No record matches these filters." : (opts.own ? "No records yet." : "This patient has no records.")),
    pager, exportButton ? el("div", { class: "actions" }, exportButton, exportBox) : null, opened];
}

// timelineRow is one record of the timeline: when, what (decrypted here),
// its kind and author, and its actions.
function timelineRow(it, opts, opened, selected, changed) {
  const sum = it.summary;
  const what = sum ? [el("strong", {}, sum.title), sum.value ? el("span", { class: "value" }, " " + sum.value) : null,
    sum.status && sum.status !== "final" && sum.status !== "completed" ? [" ", tag(sum.status, "plain")] : null]
    : el("span", { class: "muted" }, it.status === "erased" ? "Erased" : it.fhir_type + (opts.own ? " (could not be read)" : " (not opened)"));
  const actions = el("div", { class: "actions" });
  const confirmBox = el("div");
  if (it.status !== "erased" && opts.own) {
    actions.append(
      el("button", { class: "secondary", "aria-label": `View record ${it.id}`, onclick: (ev) => busy(ev.target, "Opening…", () => viewRecord(it.id, "PATRQT", opened, opts.rerender)).catch(fail) }, "View"),
      el("button", {
        class: "secondary", "aria-expanded": "false", "aria-label": `Erase record ${it.id}`, onclick: (ev) => {
          ev.target.setAttribute("aria-expanded", "true");
          confirmBox.replaceChildren(el("div", { class: "confirm", role: "alertdialog", "aria-label": "Confirm erasing" },
            el("p", {}, el("strong", {}, "Erase this record for good? "),
              "This version and every other version of it (its amendments) are erased: the chain drops their keys and locations, " +
              "and the vault deletes the encrypted files, so nobody can fetch them through healthd again, you included. " +
              "Anyone who already downloaded it keeps their copy, and the encrypted key stays in the chain's history, " +
              "where whoever holds this kind of data's key could still open it."),
            el("div", { class: "actions" },
              el("button", { class: "danger", onclick: (ev2) => busy(ev2.target, "Erasing…", async () => {
                await api("POST", `/api/records/${it.id}/erase`);
                await show("records"); notify(`Record #${it.id} was erased.`);
              }).catch(fail) }, "Erase permanently"),
              el("button", { class: "secondary", onclick: () => confirmBox.replaceChildren() }, "Keep it"))));
        },
      }, "Erase"));
  } else if (it.status !== "erased") {
    // a provider's read is a disclosure: the button says so, with the purpose
    actions.append(el("button", { class: "secondary", "aria-label": `Open record ${it.id}: records a read for ${opts.purpose}`,
      onclick: (ev) => busy(ev.target, "Opening…", () => viewRecord(it.id, opts.purpose, opened, opts.rerender)).catch(fail) },
      `Open (records a read for ${opts.purpose})`));
    if (it.readable === false) actions.append(el("div", { class: "muted refusal" }, it.refusal));
  }
  const pick = !opts.own || it.status === "erased" || !sum ? "" : el("input", { type: "checkbox", "aria-label": `Select record ${it.id} for export`,
    onchange: (ev) => { ev.target.checked ? selected.add(it.id) : selected.delete(it.id); changed(); } });
  return el("tr", { "data-record": String(it.id), class: it.status === "erased" ? "erased" : null },
    el("td", {}, pick),
    el("td", {}, el("span", { title: it.when_is_filing_date ? "Date filed (no clinical date known)" : "When it happened" },
      fmtWhen(it), it.when_is_filing_date ? el("span", { class: "muted" }, " (filed)") : null)),
    el("td", {}, what),
    el("td", {}, classLabel(it.data_class), it.status !== "active" ? [" ", tag(it.status)] : null),
    el("td", {}, who(it.author)),
    el("td", {}, actions, confirmBox));
}

// viewRecord opens a record (an access receipt is taken, except for your
// own) and shows it readably, beside its raw content.
async function viewRecord(id, purpose, target, rerender) {
  let r;
  for (let tries = 0; ; tries++) {
    try { r = await api("POST", `/api/records/${id}/open`, { purpose }); break; } catch (e) {
      if (e.code !== "waiting_for_custodians" || tries >= 60) throw e;
      target.replaceChildren(el("section", { class: "card waiting", id: "waiting-" + id, role: "status" },
        el("h2", {}, `Record #${id}`),
        el("p", {}, el("strong", {}, `Waiting for custodians (${e.body.released} of ${e.body.needed})`), " — the patient's emergency keys open once " +
          `${e.body.needed} of the consortium's key custodians have released their shares on the chain. Every release is in the patient's log.`)));
      await new Promise(res => setTimeout(res, 2000));
    }
  }
  const sum = r.summary;
  const raw = r.text !== undefined ? r.text : null;
  let shown = raw;
  try { shown = JSON.stringify(JSON.parse(raw), null, 2); } catch (_) { /* not JSON */ }
  const blob = raw !== null ? new Blob([raw], { type: "application/octet-stream" })
    : new Blob([Uint8Array.from(atob(r.data || ""), c => c.charCodeAt(0))], { type: "application/octet-stream" });
  const att = sum.attachment;
  target.replaceChildren(el("section", { class: "card record-view", id: "opened-" + id, "aria-labelledby": "rv-title-" + id },
    el("h2", { id: "rv-title-" + id, tabindex: "-1" }, sum.title || `Record #${id}`),
    el("p", { class: "muted" }, `${classLabel(r.record.data_class)} · ${r.record.fhir_type} · record #${id}` +
      (r.version > 1 ? ` · version ${r.version}` : "") + " · ",
      r.receipt_id ? `read for ${purpose}; access receipt #${r.receipt_id} is on the chain` : "your own record: reading it discloses nothing, so no access receipt was taken"),
    el("div", { class: "record-columns" },
      el("div", {}, el("h3", {}, "Summary"),
        sum.fields && sum.fields.length ? el("dl", { class: "kv", id: "rv-fields-" + id }, sum.fields.map(fl => [el("dt", {}, fl.label), el("dd", {}, fl.label === "Date" || fl.label === "Recorded" ? fmtWhen({ when: fl.value }) : fl.value)]))
          : el("p", { class: "muted" }, "This record is not a FHIR resource the portal can summarise."),
        att && att.text ? [el("h3", {}, att.title || "Attached text"), el("pre", { class: "viewer attachment" }, att.text)] : null),
      el("div", {}, el("h3", {}, "Raw content"),
        raw !== null ? el("pre", { class: "viewer", tabindex: "0", "aria-label": `Content of record ${id}`, "data-record": String(id) }, shown)
          : el("p", { class: "muted" }, `A file of ${r.size} bytes that is not text: download it to open it.`))),
    el("p", { class: "actions" }, el("a", { href: URL.createObjectURL(blob), download: `record-${id}.${raw !== null && shown !== raw ? "json" : "bin"}` }, "Download")),
    r.may_amend ? amendForm(id, purpose, rerender) : null));
  target.querySelector("h2").focus();
  notify(r.receipt_id ? `Record #${id} opened. The patient can see this read.` : `Record #${id} opened.`);
}

// Help: what the portal does, for people who have never heard of a
// blockchain. Shown at the first visit and from the Help button on every
// screen.
const helpSeen = "healthd-portal-help-seen"; // a flag in this browser's storage; nothing else is stored
views.help = async () => {
  const s = state.session;
  const patient = [el("h2", {}, "For patients"),
    el("h3", {}, "Where your records are"),
    el("p", {}, "Your records are locked (encrypted) on your own computer before they leave it, with keys only you and the people you choose hold. " +
      "The locked files are kept by your care network's record store. A shared ledger that every hospital of the network keeps a copy of — the \u201cchain\u201d — " +
      "holds only a fingerprint of each file, who filed it and when, who may read what, and a note of every read. It never holds your records, " +
      "your name or anything that says what is in them."),
    el("h3", {}, "Reading your records"),
    el("p", {}, "My records shows everything filed about you, newest first by the date it happened. The portal unlocks your records here, on this computer, " +
      "so you can search them. Reading your own records is not noted anywhere: it is not a disclosure."),
    el("h3", {}, "Sharing and taking it back"),
    el("p", {}, "In Sharing, you let a provider read (or add to) some kinds of your data, for a purpose, for some days. Every time they read a record, " +
      "it is noted, and you see it in Who read my data. Revoking stops their access at once, and new records get new keys they do not have. " +
      "What they already read, they may have kept: revoking cannot take that back."),
    el("h3", {}, "Emergencies"),
    el("p", {}, "If you cannot be asked — unconscious in an emergency room, say — a doctor may \u201cbreak the glass\u201d: open your emergency information " +
      "(allergies, medications, problems, vital signs, results, immunizations) for a short time. It is shown to you in red in Who read my data, " +
      "with the doctor's reason, and the network reviews every one. Emergency summary shows what such a doctor would see."),
    el("h3", {}, "Erasing a record"),
    el("p", {}, "Erase removes a record for good: its keys and location are dropped and the locked file is deleted, so nobody can fetch it again, " +
      "you included. Someone who already downloaded it keeps their copy.")];
  const provider = [el("h2", {}, "For providers"),
    el("p", {}, "Patients decide who reads their records. You see what kind of data each record is, who filed it and when; what it says shows once you open it. " +
      "Opening a record notes a read, with your purpose, that the patient sees at once. Choose the purpose that is true: it is reviewed."),
    el("p", {}, "File a record uploads a file or a FHIR Bundle for a patient who lets you write that kind of data. It is encrypted on this computer first."),
    el("p", {}, "Emergency access is for a patient who cannot consent when care cannot wait. It is time-boxed, shown to the patient and reviewed by the network; " +
      "abuse suspends your registration. Then the Emergency summary of the patient opens what you need first, each read noted.")];
  return [el("h1", { id: "help-title" }, "How the healthd portal works"),
    s.patient || !s.provider ? patient : null, s.provider ? provider : null,
    el("h2", {}, "Signing out"),
    el("p", {}, "Sign out (top right) makes the portal forget everything it unlocked for you. The sign-in link works once: to sign in again, restart the portal."),
    el("p", {}, el("button", { id: "help-done", onclick: () => { localStorage.setItem(helpSeen, "1"); show(tabsFor(s)[0][0]); } },
      "Got it — show my " + (s.patient ? "records" : "patients")))];
};

// The emergency summary: the International Patient Summary's sections, from
// the records the viewer has decrypted.
views.summary = async () => [el("h1", {}, "Emergency summary"),
  el("p", { class: "hint" }, "What an emergency physician needs first, from your records, decrypted on this computer. " +
    "A provider who breaks the glass for you sees the same sections, from the records it may open."),
  await summarySection({ own: true, rerender: () => show("summary") })];

async function summarySection(opts) {
  const q = opts.own ? "" : `?patient=${encodeURIComponent(opts.patient)}&purpose=${encodeURIComponent(opts.purpose)}`;
  const data = await api("GET", "/api/summary" + q);
  const notOpened = data.sections.reduce((n, sec) => n + sec.not_opened, 0);
  const cards = data.sections.map(sec => el("section", { class: "card ips", id: "ips-" + sec.id, "aria-labelledby": "ips-h-" + sec.id },
    el("h2", { id: "ips-h-" + sec.id }, sec.title),
    sec.items.length ? el("ul", { class: "ips-items" }, sec.items.map(it => el("li", { "data-record": String(it.id) },
      el("strong", {}, it.summary.title), it.summary.value ? " — " + it.summary.value : "",
      el("span", { class: "muted" }, " · " + fmtWhen(it) + " · ", who(it.author)))))
      : el("p", { class: "muted" }, "None recorded" + (sec.not_opened ? "" : ".")),
    sec.not_opened ? el("p", { class: "muted" }, `${sec.not_opened} record${sec.not_opened > 1 ? "s" : ""} of this kind not opened yet.`) : null));
  const openAll = !opts.own && notOpened ? el("button", { id: "ips-open", onclick: (ev) => busy(ev.target, "Opening…", async () => {
    const r = await api("POST", "/api/summary/open", { patient: opts.patient, purpose: opts.purpose });
    await opts.rerender();
    notify(`${r.opened} record${r.opened === 1 ? "" : "s"} opened for ${opts.purpose}; the patient sees each read.` + (r.refusal ? " Some could not be opened: " + r.refusal : ""));
  }).catch(fail) }, `Open the ${notOpened === 1 ? "record" : notOpened + " records"} of these kinds (each read is recorded for ${opts.purpose})`) : null;
  return [openAll, el("div", { class: "ips-grid", id: "ips" }, cards)];
}

views.sharing = async () => {
  const s = state.session;
  const data = await api("GET", "/api/consents");
  const form = el("form", { class: "card", id: "grant-form" },
    el("h2", {}, "Share with a provider"),
    field("grant-grantee", "Provider's address", el("input", { type: "text", required: true, autocomplete: "off", placeholder: "health1…" })),
    checkboxes("classes", "Kinds of data", s.data_classes, []),
    checkboxes("purposes", "For what purpose", s.purposes.filter(p => p !== "ETREAT"), ["TREAT"]),
    checkboxes("permissions", "May", s.permissions, ["read"]),
    el("p", { class: "hint", id: "write-warning" }, "Write access comes with the key to these kinds of data: a provider who may write " +
      "can also decrypt your earlier records of those kinds. Revoking changes the key for records filed afterwards."),
    field("grant-days", "For how many days", el("input", { type: "number", min: "1", max: "3650", value: "30", required: true })),
    el("button", { type: "submit", id: "grant-submit" }, "Grant access"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {
      grantee: form.querySelector("#grant-grantee").value.trim(), data_classes: checked(form, "classes"),
      purposes: checked(form, "purposes"), permissions: checked(form, "permissions"),
      days: parseInt(form.querySelector("#grant-days").value, 10),
    };
    if (!body.data_classes.length) { fail({ message: "Choose at least one kind of data." }); return; }
    busy(form.querySelector("#grant-submit"), "Granting… (waiting for the chain)", async () => {
      const r = await api("POST", "/api/consents", body);
      await show("sharing"); notify(`Access granted (consent #${r.id}).`);
    }).catch(fail);
  });
  const row = (c, mine) => {
    const actions = el("div", { class: "actions" });
    if (mine && c.status === "active") {
      actions.append(el("button", { class: "secondary", "data-revoke": String(c.id), onclick: (ev) => busy(ev.target, "Revoking…", async () => {
        const r = await api("POST", `/api/consents/${c.id}/revoke`);
        await show("sharing");
        notify(`Consent #${c.id} revoked.` + (r.rotated_classes && r.rotated_classes.length ? " New records use new keys the revoked provider does not have." : "") +
          (r.escrow ? " Your new emergency keys are escrowed with the custodians." : "") +
          (r.escrow_error ? " Your new emergency keys are not escrowed yet: " + r.escrow_error : ""));
      }).catch(fail) }, "Revoke"));
    }
    return el("tr", { "data-consent": String(c.id), class: c.emergency ? "emergency" : null },
      el("td", {}, "#" + c.id), el("td", {}, who(mine ? c.grantee : c.patient), c.emergency ? [" ", tag("emergency")] : null),
      el("td", {}, c.data_classes.join(", ")), el("td", {}, c.permissions.join(", ")), el("td", {}, c.purposes.join(", ")),
      el("td", {}, fmtDate(c.end)), el("td", {}, tag(c.status)), el("td", {}, actions));
  };
  const table = (list, mine) => list.length
    ? dataTable({}, ["Consent", mine ? "Provider" : "Patient", "Data", "May", "Purpose", "Until", "Status", ""], list.map(c => row(c, mine)))
    : el("p", { class: "muted" }, "None.");
  return [el("h1", {}, "Sharing"),
    el("p", { class: "hint" }, "Who may read or write which of your data. Revoking stops access at once."),
    form, el("h2", {}, "Access you gave"), table(data.given, true),
    data.held.length ? [el("h2", {}, "Access you hold"), table(data.held, false)] : null];
};

views.access = async () => {
  const data = await api("GET", "/api/receipts");
  const rows = data.receipts.map(r => el("tr", { class: r.emergency ? "emergency" : null, "data-receipt": String(r.id) },
    el("td", {}, fmtTime(r.time)), el("td", {}, who(r.accessor)), el("td", {}, "#" + r.record_id + (r.data_class ? " (" + r.data_class + ")" : "")),
    el("td", {}, r.purpose), el("td", {}, r.emergency
      ? [tag("emergency"), " ", el("span", {}, "review: " + (r.review || "pending")), r.emergency_note ? el("div", { class: "muted" }, r.emergency_note) : null]
      : (r.consent_id ? "consent #" + r.consent_id : "you"))));
  const releases = (data.key_releases || []).map(r => el("tr", { class: "emergency", "data-release": r.access_id + "-" + r.custodian.address },
    el("td", {}, fmtTime(r.time)), el("td", {}, who(r.custodian)), el("td", {}, who(r.provider)),
    el("td", {}, "emergency access #" + r.access_id), el("td", {}, (r.classes || []).join(", "))));
  const escrow = state.session.escrow;
  return [el("h1", {}, "Who read my data"),
    el("p", { class: "hint" }, "Every read of your records, as recorded on the chain. Emergency (break-glass) reads are highlighted and reviewed by the consortium."),
    rows.length ? dataTable({ id: "receipts" }, ["When", "Who", "Record", "Purpose", "Under"], rows)
      : el("p", { class: "muted" }, "Nobody has read your records yet."),
    el("h2", {}, "Emergency key releases"),
    el("p", { class: "hint" }, escrow && escrow.classes
      ? `Your emergency keys (${escrow.classes.map(c => c.data_class).join(", ")}) are split among ${escrow.custodians} custodians; ` +
        `${escrow.threshold} of them together can open those kinds of data, and they release their shares only to a provider with a live emergency access. Each release is listed here.`
      : "Your emergency keys are not escrowed: a provider who breaks the glass cannot decrypt your records."),
    releases.length ? dataTable({ id: "key-releases" }, ["When", "Custodian", "To", "Under", "Kinds of data"], releases)
      : el("p", { class: "muted" }, "No custodian has released your keys."),
    releases.length ? rotateOffer([...new Set(data.key_releases.flatMap(r => r.classes || []))]) : null];
};

// rotateOffer proposes, once an emergency is over, to rotate the keys the
// custodians released: the provider's copy then opens nothing filed later.
function rotateOffer(classes) {
  const box = el("div", { class: "card", id: "rotate-offer" },
    el("p", {}, "When the emergency is over, rotate these keys (" + classes.join(", ") + "): the provider keeps what it could open, " +
      "but nothing filed from then on. Your other providers get the new keys, and the custodians the new shares, in the same step."));
  const button = el("button", { id: "rotate-keys", onclick: () => busy(button, "Rotating…", async () => {
    const r = await api("POST", "/api/rotate", { classes });
    notify(`Rotated the keys of ${r.rotated_classes.join(", ")}` + (r.escrow ? "; the new keys are escrowed with the custodians." : "."));
  }).catch(fail) }, "Rotate the released keys");
  box.append(button);
  return box;
};

views.delegates = async () => {
  const s = (state.session = await api("GET", "/api/session"));
  const list = (s.patient && s.patient.delegates) || [];
  const form = el("form", { class: "card" },
    el("h2", {}, "Add a delegate"),
    el("p", { class: "hint" }, "A delegate (a parent, a guardian) can manage your consents and records until the date you set."),
    field("delegate-addr", "Delegate's address", el("input", { type: "text", required: true, autocomplete: "off", placeholder: "health1…" })),
    field("delegate-days", "For how many days", el("input", { type: "number", min: "1", max: "3650", value: "365", required: true })),
    el("button", { type: "submit" }, "Add delegate"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(form.querySelector("button"), "Adding…", async () => {
      await api("POST", "/api/delegates", { delegate: form.querySelector("#delegate-addr").value.trim(), days: parseInt(form.querySelector("#delegate-days").value, 10) });
      await show("delegates"); notify("Delegate added.");
    }).catch(fail);
  });
  return [el("h1", {}, "Delegates"),
    list.length ? el("ul", {}, list.map(d => el("li", {}, who(d.delegate), " until " + fmtDate(d.expires_at) + " ",
      el("button", { class: "secondary", onclick: (ev) => busy(ev.target, "Removing…", async () => {
        await api("POST", `/api/delegates/${d.delegate.address}/remove`); await show("delegates"); notify("Delegate removed.");
      }).catch(fail) }, "Remove")))) : el("p", { class: "muted" }, "No delegates."),
    form];
};

// ---- provider views ----
views.patients = async () => {
  const out = el("div", { id: "patient-records" });
  // ETREAT is for reads under an emergency (break-glass) access
  const purpose = select(state.session.purposes, state.lookupPurpose || "TREAT");
  const form = el("form", { class: "card", id: "lookup-form" },
    field("lookup-addr", "Patient's address", el("input", { type: "text", required: true, autocomplete: "off", placeholder: "health1…", value: state.lookup })),
    field("lookup-purpose", "Purpose of use", purpose),
    el("button", { type: "submit", id: "lookup-submit" }, "Show records"));
  let loads = 0; // only the newest lookup renders
  const load = async () => {
    const mine = ++loads;
    const addr = form.querySelector("#lookup-addr").value.trim();
    if (addr !== state.lookup || purpose.value !== state.lookupPurpose) Object.assign(state.ptimeline, noFilters);
    state.lookup = addr; state.lookupPurpose = purpose.value;
    const p = purpose.value;
    const section = state.showSummary
      ? [el("p", {}, el("button", { class: "secondary", id: "show-timeline", onclick: () => { state.showSummary = false; load().catch(fail); } }, "← All records")),
        el("h2", {}, "Emergency summary"), await summarySection({ own: false, patient: addr, purpose: p, rerender: () => load().catch(fail) })]
      : [el("p", {}, el("button", { class: "secondary", id: "show-summary", onclick: () => { state.showSummary = true; load().catch(fail); } }, "Emergency summary")),
        await timelineSection({ own: false, patient: addr, purpose: p, f: state.ptimeline, rerender: () => load().catch(fail) })];
    if (mine !== loads) return;
    out.replaceChildren(...section.flat(Infinity).filter(Boolean));
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); clearMessages(); busy(form.querySelector("#lookup-submit"), "Loading…", load).catch(fail); });
  if (state.lookup) load().catch(fail);
  return [el("h1", {}, "Patients"),
    el("p", { class: "hint" }, "Look up a patient by address. What a record is shows once you have opened it; opening a record takes an access receipt the patient sees."), form, out];
};

views.file = async () => {
  const s = state.session;
  const progress = el("progress", { max: "100", value: "0", hidden: true, "aria-label": "Upload progress" });
  const stage = el("p", { class: "muted", "aria-live": "polite" });
  const kind = select(["file", "bundle"], "file");
  const classSel = select(s.data_classes, "lab-result");
  const classField = field("file-class", "Kind of data", classSel);
  const typeField = field("file-fhir-type", "FHIR resource type", el("input", { type: "text", value: "Observation" }), "e.g. Observation, DiagnosticReport, DocumentReference");
  const form = el("form", { class: "card", id: "file-form" },
    field("file-patient", "Patient's address", el("input", { type: "text", required: true, autocomplete: "off", placeholder: "health1…", value: state.lookup })),
    field("file-kind", "What you upload", kind, "a file (one record), or a FHIR R4 Bundle (one record per resource)"),
    classField, typeField,
    field("file-purpose", "Purpose", select(s.purposes.filter(p => p !== "ETREAT"), "TREAT")),
    field("file-input", "File", el("input", { type: "file", required: true })),
    el("button", { type: "submit", id: "file-submit" }, "Encrypt and file"), progress, stage);
  kind.addEventListener("change", () => { classField.hidden = typeField.hidden = kind.value === "bundle"; });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearMessages();
    const file = form.querySelector("#file-input").files[0];
    if (!file) { fail({ message: "Choose a file." }); return; }
    const fd = new FormData();
    fd.append("patient", form.querySelector("#file-patient").value.trim());
    fd.append("kind", kind.value);
    fd.append("data_class", classSel.value);
    fd.append("fhir_type", form.querySelector("#file-fhir-type").value.trim());
    fd.append("purpose", form.querySelector("#file-purpose").value);
    fd.append("size", String(file.size));
    fd.append("file", file);
    busy(form.querySelector("#file-submit"), "Filing…", () => new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/records");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      progress.hidden = false; progress.value = 0;
      stage.textContent = "Uploading to the portal…";
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) progress.value = Math.round(100 * e.loaded / e.total); };
      xhr.upload.onload = () => { progress.value = 100; stage.textContent = "Encrypting, uploading to the vault, and committing on the chain…"; };
      xhr.onerror = () => reject(new APIError({ code: "portal_unreachable", error: "The portal process is not answering." }, 0));
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* keep {} */ }
        if (xhr.status !== 200) { reject(new APIError(body, xhr.status)); return; }
        resolve(body);
      };
      xhr.send(fd);
    })).then(body => {
      stage.textContent = "";
      notify(`Filed: record ${body.record_ids.map(i => "#" + i).join(", ")}.`);
    }).catch(e => { stage.textContent = ""; progress.hidden = true; fail(e); });
  });
  return [el("h1", {}, "File a record"),
    el("p", { class: "hint" }, "The file is encrypted in the portal process before it goes to the vault; the chain stores only its hash. You need the patient's write consent for that kind of data."),
    form];
};

views.emergency = async () => {
  const s = state.session;
  const max = s.max_emergency_minutes || 1440;
  const form = el("form", { class: "card glass", id: "glass-form" },
    el("h1", {}, "Emergency access (break-glass)"),
    el("p", { class: "warn" }, "Use only when the patient cannot consent and care cannot wait. The access is time-boxed, the patient sees it, and the consortium reviews every one: abuse suspends your registration."),
    field("glass-patient", "Patient's address", el("input", { type: "text", required: true, autocomplete: "off", placeholder: "health1…", value: state.lookup })),
    field("glass-reason", "Reason", select(s.emergency_reasons, s.emergency_reasons[0])),
    field("glass-note", "Short justification (no clinical or identifying details, 140 characters at most)", el("input", { type: "text", maxlength: "140" })),
    field("glass-minutes", `Duration in minutes (at most ${max})`, el("input", { type: "number", min: "1", max: String(max), value: String(Math.min(60, max)), required: true })),
    el("button", { type: "submit", class: "danger" }, "Open emergency access"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(form.querySelector("button"), "Opening…", async () => {
      const patient = form.querySelector("#glass-patient").value.trim();
      const r = await api("POST", "/api/break-glass", {
        patient, reason: form.querySelector("#glass-reason").value, note: form.querySelector("#glass-note").value,
        minutes: parseInt(form.querySelector("#glass-minutes").value, 10),
      });
      state.lookup = patient;
      notify(`Emergency access #${r.id} is open. Read records for ETREAT from the Patients tab.`);
    }).catch(fail);
  });
  return form;
};

views.registration = async () => {
  const s = (state.session = await api("GET", "/api/session"));
  const p = s.provider;
  const soon = p.credential_expires_at && (new Date(p.credential_expires_at) - Date.now()) < 30 * 864e5;
  return [el("h1", {}, "My registration"),
    el("dl", { class: "kv" },
      el("dt", {}, "Name"), el("dd", {}, p.name), el("dt", {}, "Kind"), el("dd", {}, p.kind),
      el("dt", {}, "Jurisdiction"), el("dd", {}, p.jurisdiction || "—"),
      el("dt", {}, "Status"), el("dd", {}, tag(p.status), p.status_reason ? " (" + p.status_reason + ")" : ""),
      el("dt", {}, "Credential expires"), el("dd", {}, fmtDate(p.credential_expires_at),
        p.credential_expired ? [" ", tag("expired")] : (soon ? el("div", { class: "warn" }, "Renew it soon: when it expires you can no longer read or file records.") : null)),
      el("dt", {}, "Address"), el("dd", { class: "addr" }, p.address))];
};

views.none = async () => [el("h1", {}, "Account"),
  el("p", {}, "This account is neither a registered patient nor a provider. Register as a patient with ",
    el("code", {}, "healthd tx consent register-patient"), ", or apply as a provider with ", el("code", {}, "healthd tx providers apply"), ".")];

// ---- start ----
async function start() {
  try {
    const s = (state.session = await api("GET", "/api/session"));
    const roles = [s.patient ? "patient" : null, s.provider ? (s.provider.name + " · " + s.provider.status) : null].filter(Boolean);
    document.getElementById("who").replaceChildren(el("strong", {}, s.key_name), " ", el("span", { class: "addr" }, s.address), " ",
      ...roles.map(r => el("span", { class: "badge" }, r)));
    await show(localStorage.getItem(helpSeen) ? tabsFor(s)[0][0] : "help");
    if (s.patient && s.escrow && s.escrow.needed) {
      // first login, a custodian set change or a key rotation: (re-)escrow
      const r = await api("POST", "/api/escrow");
      if (r.escrowed) {
        state.session.escrow = { needed: false, classes: r.escrow.classes, threshold: r.escrow.threshold, custodians: r.escrow.custodians };
        notify(`Your emergency keys are escrowed with ${r.escrow.custodians} custodians (${r.escrow.threshold} needed to open them in an emergency).`);
      }
    }
  } catch (e) {
    document.getElementById("main").replaceChildren(el("p", {}, "The portal could not load your account."));
    fail(e);
  }
}
document.getElementById("help").addEventListener("click", () => show("help"));

// Signing out ends the session and drops everything the portal decrypted
// for it; the page keeps nothing either.
document.getElementById("logout").addEventListener("click", async (ev) => {
  try { await api("POST", "/api/logout"); } catch (e) { fail(e); return; }
  document.getElementById("tabs").replaceChildren();
  document.getElementById("who").replaceChildren("Signed out");
  ev.target.hidden = true;
  document.getElementById("help").hidden = true;
  clearMessages();
  document.getElementById("main").replaceChildren(el("h1", {}, "You are signed out"),
    el("p", { id: "signed-out" }, "The portal has forgotten everything it decrypted for you. The sign-in link works only once: " +
      "to sign in again, restart healthd portal and open the new link it prints."));
});
start();
