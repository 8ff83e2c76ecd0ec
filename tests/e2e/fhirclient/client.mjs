// Drives `healthd fhir serve` as an EHR would, with third-party libraries:
// fhir-kit-client for the FHIR REST API, jose for the SMART Backend Services
// client assertion (fhir-kit-client has no backend-services flow), and the
// `fhir` package's R4 validator for every resource the server emits.
// tests/e2e/fhirserver_test.go runs it, one phase at a time, and checks the
// JSON it prints. Every failed expectation throws, which exits non-zero.
//
// Environment: PHASE, FHIR_URL, CLIENT_ID, KEY (a private JWK file), MRN,
// BUNDLE (a transaction Bundle file, phase "hospital"), OTHER_MRN_ADDRESSLESS
// (an MRN the server does not know).
import fs from 'node:fs';
import crypto from 'node:crypto';
import { Client } from 'fhir-kit-client';
import { SignJWT, importJWK } from 'jose';
import fhirpkg from 'fhir';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env('FHIR_URL');
const clientID = env('CLIENT_ID');
const mrn = env('MRN');
const validator = new fhirpkg.Fhir();
const out = { validated: 0 };

function expect(cond, what, detail) {
  if (!cond) throw new Error(`expectation failed: ${what}${detail === undefined ? '' : ': ' + JSON.stringify(detail).slice(0, 2000)}`);
}

// validate checks a resource the server emitted (and each resource of a
// Bundle) with the third-party R4 validator: no error may be reported.
function validate(resource, where) {
  const res = validator.validate(resource);
  const errors = res.messages.filter((m) => m.severity === 'error');
  expect(errors.length === 0, `${where}: ${resource.resourceType} passes the R4 validator`, errors);
  out.validated++;
  if (resource.resourceType === 'Bundle') {
    for (const e of resource.entry || []) {
      if (e.resource) validate(e.resource, where + ' entry');
      if (e.response && e.response.outcome) validate(e.response.outcome, where + ' entry outcome');
    }
  }
}

// assertion signs a SMART Backend Services client assertion.
async function assertion(tokenURL) {
  const jwk = JSON.parse(fs.readFileSync(env('KEY'), 'utf8'));
  const key = await importJWK(jwk, 'ES384');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: jwk.kid, typ: 'JWT' })
    .setIssuer(clientID).setSubject(clientID).setAudience(tokenURL)
    .setIssuedAt().setExpirationTime('4m').setJti(crypto.randomUUID())
    .sign(key);
}

async function tokenRequest(tokenURL, signed, scope, purpose) {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: signed, scope,
  });
  if (purpose) body.set('purpose_of_use', purpose);
  const r = await fetch(tokenURL, { method: 'POST', body });
  return { status: r.status, body: await r.json() };
}

// token gets an access token through SMART Backend Services discovery.
async function token(scope, purpose) {
  const cfg = await (await fetch(base + '/.well-known/smart-configuration')).json();
  expect(cfg.token_endpoint === base + '/token', 'the smart-configuration names the token endpoint', cfg);
  expect(cfg.token_endpoint_auth_signing_alg_values_supported.includes('ES384'), 'ES384 is supported', cfg);
  const r = await tokenRequest(cfg.token_endpoint, await assertion(cfg.token_endpoint), scope, purpose);
  expect(r.status === 200 && r.body.access_token, `a token for ${scope}`, r);
  return r.body;
}

// refused runs a call that must fail with status, and returns its OperationOutcome.
async function refused(status, what, call) {
  try {
    const res = await call();
    expect(false, `${what} is refused with ${status}`, res);
  } catch (err) {
    if (!err.response) throw err;
    expect(err.response.status === status, `${what} is refused with ${status}`, { got: err.response.status, data: err.response.data });
    const oo = typeof err.response.data === 'string' ? JSON.parse(err.response.data) : err.response.data;
    expect(oo.resourceType === 'OperationOutcome', `${what} answers an OperationOutcome`, oo);
    validate(oo, what);
    return oo;
  }
}

const client = (tok) => new Client({ baseUrl: base, bearerToken: tok });

// allPages follows a search's next links with the client library.
async function allPages(c, first) {
  let page = first;
  const entries = [];
  let pages = 0;
  while (page) {
    validate(page, 'search page');
    pages++;
    entries.push(...(page.entry || []).filter((e) => e.search && e.search.mode === 'match'));
    page = await c.nextPage({ bundle: page });
  }
  return { entries, pages };
}

function stripServer(r) {
  const copy = JSON.parse(JSON.stringify(r));
  delete copy.id;
  delete copy.meta;
  return copy;
}

function sameJSON(a, b) {
  const norm = (v) => (Array.isArray(v) ? v.map(norm) : v && typeof v === 'object'
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, norm(v[k])])) : v);
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

async function hospital() {
  const anon = new Client({ baseUrl: base });
  const cs = await anon.capabilityStatement();
  expect(cs.resourceType === 'CapabilityStatement' && cs.fhirVersion === '4.0.1', 'GET /metadata is an R4 CapabilityStatement', cs.fhirVersion);
  validate(cs, 'CapabilityStatement');
  await refused(401, 'a search without a token', () => anon.search({ resourceType: 'Observation', searchParams: { patient: mrn } }));

  // a replayed assertion is refused
  const cfg = await (await fetch(base + '/.well-known/smart-configuration')).json();
  const signed = await assertion(cfg.token_endpoint);
  const first = await tokenRequest(cfg.token_endpoint, signed, 'system/*.rs');
  const replay = await tokenRequest(cfg.token_endpoint, signed, 'system/*.rs');
  expect(first.status === 200 && replay.status === 401 && replay.body.error === 'invalid_client', 'a reused jti is refused', replay);
  // a scope the client is not registered for, or a purpose it may not claim
  const tooMuch = await tokenRequest(cfg.token_endpoint, await assertion(cfg.token_endpoint), 'system/Patient.d');
  expect(tooMuch.status === 400 && tooMuch.body.error === 'invalid_scope', 'an unregistered scope is refused', tooMuch);

  // a read-only token cannot write, and is refused before the chain is asked
  const ro = await token('system/Observation.rs');
  const bundle = JSON.parse(fs.readFileSync(env('BUNDLE'), 'utf8'));
  await refused(403, 'a transaction with a read-only token', () => client(ro.access_token).transaction({ body: bundle }));

  const tok = await token('system/*.cru system/*.s', 'TREAT');
  expect(tok.purpose_of_use === 'TREAT' && tok.expires_in <= 300, 'the token carries its purpose and is short-lived', tok);
  const c = client(tok.access_token);

  // bad input: a structural error names its FHIRPath; an unknown patient is 422
  const bad = await refused(400, 'an Observation without code', () => c.create({
    resourceType: 'Observation', body: { resourceType: 'Observation', status: 'final', subject: { reference: 'Patient/' + mrn } },
  }));
  expect(bad.issue.some((i) => i.code === 'required' && (i.expression || []).includes('Observation.code')), 'the issue names Observation.code', bad);
  await refused(422, 'a resource of an unknown patient', () => c.create({
    resourceType: 'Observation',
    body: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/' + env('UNKNOWN_MRN') } },
  }));
  await refused(400, 'a search on content (code)', () => c.search({ resourceType: 'Observation', searchParams: { patient: mrn, code: '4548-4' } }));

  // the transaction: every resource a record, all in one chain transaction
  const t0 = Date.now();
  const resp = await c.transaction({ body: bundle });
  out.transactionMs = Date.now() - t0;
  validate(resp, 'transaction-response');
  expect(resp.type === 'transaction-response' && resp.entry.length === bundle.entry.length, 'one response entry per entry', resp.entry.length);
  // the Patient entry names the patient (200, Patient/MRN: nothing stored);
  // every other entry is a new record (201 with its Location)
  const locations = resp.entry.map((e, i) => {
    if (bundle.entry[i].resource.resourceType === 'Patient') {
      expect(e.response.status.startsWith('200') && e.response.location === 'Patient/' + mrn, 'the Patient entry names the patient', e);
      return null;
    }
    expect(e.response.status.startsWith('201') && /^[A-Za-z]+\/\d+\/_history\/1$/.test(e.response.location), 'each entry is 201 with a Location', e);
    return e.response.location;
  });
  out.created = locations.filter(Boolean).length;

  // search, with the library's paging
  const wantObs = bundle.entry.filter((e) => e.resource.resourceType === 'Observation').length;
  const firstPage = await c.search({ resourceType: 'Observation', searchParams: { patient: mrn, _count: 40 } });
  expect(firstPage.total === wantObs, 'the search total counts every Observation', { total: firstPage.total, wantObs });
  const { entries, pages } = await allPages(c, firstPage);
  expect(entries.length === wantObs && pages === Math.ceil(wantObs / 40), 'the pages hold every Observation once', { n: entries.length, pages });
  expect(new Set(entries.map((e) => e.resource.id)).size === wantObs, 'no Observation twice');
  out.observations = wantObs;
  out.pages = pages;
  const vitals = await c.search({ resourceType: 'Observation', searchParams: { patient: mrn, category: 'vital-signs', _summary: 'count' } });
  const wantVitals = bundle.entry.filter((e) => e.resource.resourceType === 'Observation' && JSON.stringify(e.resource.category || '').includes('vital-signs')).length;
  expect(vitals.total === wantVitals && !vitals.entry, 'category=vital-signs counts the vital signs, reading nothing', { total: vitals.total, wantVitals });

  // read one resource: the content as sent, with the server's id and version
  const k = locations.findIndex((l) => l && l.startsWith('Observation/'));
  const [type, id] = locations[k].split('/');
  const one = await c.read({ resourceType: type, id });
  validate(one, 'read');
  expect(one.id === id && one.meta.versionId === '1', 'the read has its id and version 1', one.meta);
  expect(sameJSON(stripServer(one), stripServer(bundle.entry[k].resource)), 'the read is the resource sent', { one, sent: bundle.entry[k].resource });

  // amend it: version 2; the first version stays readable; Provenance shows both
  const amended = { ...stripServer(one), id, status: 'amended' };
  const upd = await c.update({ resourceType: type, id, body: amended });
  expect(upd.meta.versionId === '2' && upd.status === 'amended', 'PUT makes version 2', upd.meta);
  const v1 = await c.vread({ resourceType: type, id, version: '1' });
  expect(v1.status !== 'amended' && v1.meta.versionId === '1', 'version 1 is still served', v1.meta);
  const prov = await c.search({ resourceType: 'Provenance', searchParams: { target: `${type}/${id}` } });
  validate(prov, 'Provenance');
  expect(prov.total === 2 && prov.entry[1].resource.activity.coding[0].code === 'UPDATE', 'Provenance: created, then updated', prov);
  expect(prov.entry.every((e) => e.resource.extension.length === 2), 'each version names its block height and transaction', prov.entry.map((e) => e.resource.extension));
  out.provenance = prov.entry.map((e) => e.resource.extension.map((x) => x.valueString));

  // $everything: every resource, the amended one at version 2
  const t1 = Date.now();
  const all = await c.operation({ name: '$everything', resourceType: 'Patient', id: mrn, method: 'get' });
  out.everythingMs = Date.now() - t1;
  validate(all, '$everything');
  expect(all.total === bundle.entry.length, '$everything returns every resource', all.total);
  expect(all.entry.find((e) => e.resource.id === id).resource.meta.versionId === '2', '$everything serves the current version');
  out.everything = all.total;

  // the patient's consents and the accounting of disclosures
  const consents = await c.search({ resourceType: 'Consent', searchParams: { patient: mrn } });
  validate(consents, 'Consent');
  expect(consents.entry.some((e) => e.resource.status === 'active'), 'an active consent', consents);
  out.consents = consents.entry.map((e) => ({ status: e.resource.status, actor: e.resource.provision.actor[0].reference.display }));
  const audit = await c.search({ resourceType: 'AuditEvent', searchParams: { patient: mrn } });
  validate(audit, 'AuditEvent');
  const reads = audit.entry.filter((e) => e.resource.subtype && e.resource.subtype[0].code === 'read');
  // reads so far: the Observation pages, the single read, vread, $everything (its Patient is the MRN: no read)
  expect(reads.length >= wantObs + 2 + bundle.entry.length - 1, 'every read is an AuditEvent', { reads: reads.length });
  expect(reads.every((e) => e.resource.purposeOfEvent[0].coding[0].code === 'TREAT'), 'each with its purpose of use');
  out.auditEvents = audit.total;

  // an interface engine with parallel workers: transactions and reads at once
  // (one account, so the server must hand out sequence numbers in turn)
  const small = (i) => ({
    resourceType: 'Bundle', type: 'transaction',
    entry: [0, 1, 2, 3, 4].map((j) => ({
      resource: { resourceType: 'Observation', status: 'final', code: { text: `parallel ${i}.${j}` }, subject: { reference: 'Patient/' + mrn } },
      request: { method: 'POST', url: 'Observation' },
    })),
  });
  const parallel = await Promise.all([
    c.transaction({ body: small(1) }), c.transaction({ body: small(2) }), c.transaction({ body: small(3) }),
    c.read({ resourceType: type, id }), c.search({ resourceType: 'Condition', searchParams: { patient: mrn, _count: 5 } }),
  ]);
  expect(parallel.slice(0, 3).every((r) => r.entry.length === 5 && r.entry.every((e) => e.response.status.startsWith('201'))),
    'concurrent transactions all commit', parallel.slice(0, 3));
  expect(parallel[3].meta.versionId === '2' && parallel[4].resourceType === 'Bundle', 'concurrent reads are served');
  out.parallelCreated = 15;
  out.sampleResourceIds = [id];
  out.sampleType = type;
}

async function labRefused() {
  const c = client((await token('system/*.rs')).access_token);
  const reason = (oo) => oo.issue[0].details && oo.issue[0].details.coding[0].code;
  const s = await refused(403, 'the lab searching without consent', () => c.search({ resourceType: 'Observation', searchParams: { patient: mrn } }));
  const r = await refused(403, 'the lab reading without consent', () => c.read({ resourceType: env('SAMPLE_TYPE'), id: env('SAMPLE_ID') }));
  const e = await refused(403, 'the lab asking $everything without consent', () => c.operation({ name: '$everything', resourceType: 'Patient', id: mrn, method: 'get' }));
  out.reasons = [reason(s), reason(r), reason(e)];
}

async function labAllowed() {
  const c = client((await token('system/*.rs')).access_token);
  const labs = await c.search({ resourceType: 'Observation', searchParams: { patient: mrn, category: 'laboratory', _count: 500 } });
  validate(labs, 'lab search');
  expect(labs.total > 0 && labs.entry.length === labs.total, 'the lab reads the lab results it was granted', labs.total);
  out.labResults = labs.total;
  // what it was not granted stays closed, and says why
  const vit = await refused(403, 'the lab reading vital signs', () => c.search({ resourceType: 'Observation', searchParams: { patient: mrn, category: 'vital-signs' } }));
  out.reasons = [vit.issue[0].details.coding[0].code];
}

const phases = { hospital, 'lab-refused': labRefused, 'lab-allowed': labAllowed };
const phase = phases[env('PHASE')];
if (!phase) throw new Error('unknown PHASE');
await phase();
console.log(JSON.stringify(out));
