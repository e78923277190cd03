/** Reports: JUnit as XML with the right counts; the HTML page in a real headless Chromium at 1,000 robots. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { htmlReport, tileState } from '../../src/report/html.js';
import { junitXml } from '../../src/report/junit.js';
import { runDocument, summarize, exitCode, type RunInfo } from '../../src/report/summary.js';
import { recapText } from '../../src/report/recap.js';
import type { HostResult } from '../../src/runner/types.js';
import { run } from '../../src/util/proc.js';

const info = (command: string, extra: Partial<RunInfo> = {}): RunInfo => ({ command, checkMode: false, inventory: 'inv.yml', startedAt: new Date(), ...extra });

function fleet(n: number): HostResult[] {
  const out: HostResult[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    const base = { host: `robot-${String(i).padStart(4, '0')}`, changes: [], warnings: [], diffs: [], reasons: [] as HostResult['reasons'], error: null as HostResult['error'], durationMs: 120 };
    const details = { interface: k === 3 ? 'eth0' : 'wlan0', backend: k === 4 ? 'legacy' : 'nft', persistence: 'systemd' as const, bootId: '4f1c2a3b-1111-2222-3333-444455556666', checkedAt: '2026-11-25T03:00:00.000Z', firedThisBoot: k < 6 };
    if (k < 7) out.push({ ...base, status: 'ok', compliant: true, details });
    else if (k === 7) out.push({ ...base, status: 'failed', compliant: false, reasons: [{ code: 'rule-missing', text: 'the rule is not live on wlan0', iface: 'wlan0' }, { code: 'unit-missing', text: 'persistence missing: <no unit> & "quotes"' }], details });
    else if (k === 8) out.push({ ...base, status: 'unreachable', details: {}, error: { kind: 'unreachable', message: 'no SSH answer within 10 s' } });
    else out.push({ ...base, status: 'skipped', reasons: [{ code: 'not-started', text: 'interrupted' }], details: {} });
  }
  return out;
}

test('summary, exit codes and the recap', () => {
  const r = fleet(20);
  const s = summarize(r, 'check');
  // The non-compliant robots are counted as that, not as failed.
  assert.deepEqual(s, { total: 20, ok: 14, changed: 0, failed: 0, noncompliant: 2, unreachable: 2, skipped: 2, hostKeyRefused: 0, compliant: 14, nonCompliant: 2, unknown: 4 });
  assert.equal(exitCode(s, { interrupted: false }), 2);
  assert.equal(exitCode({ ...s, failed: 0 }, { interrupted: false }), 2, 'non-compliant robots alone make it 2');
  assert.equal(exitCode({ ...s, failed: 0, noncompliant: 0 }, { interrupted: false }), 2, 'non-compliant robots (by compliance) alone make it 2');
  assert.equal(exitCode({ ...s, failed: 0, noncompliant: 0, nonCompliant: 0 }, { interrupted: false }), 4);
  assert.equal(exitCode({ ...s, failed: 0, noncompliant: 0, nonCompliant: 0, unreachable: 0 }, { interrupted: false }), 0);
  assert.equal(exitCode({ ...s, failed: 0, noncompliant: 0, nonCompliant: 0 }, { interrupted: false, stopped: true }), 2, 'a stopped rollout is not "unreachable"');
  assert.equal(exitCode({ ...s, hostKeyRefused: 1 }, { interrupted: false }), 6, 'a refused host key has its own code');
  assert.equal(exitCode(s, { interrupted: true }), 130);
  // The denominator is every robot asked about: unknown is not compliant.
  const text = recapText(r, info('check'));
  assert.match(text, /check recap: 20 robots {2}ok=14 {2}changed=0 {2}unreachable=2 {2}failed=0 {2}noncompliant=2 {2}skipped=2 {2}compliant=14\/20 \(4 unknown\)/);
  assert.match(text, /robot-0007 +noncompliant /, 'a non-compliant robot says so, not failed*');
  const doc = runDocument(r, info('check', { limit: 'robot-*' }));
  assert.equal(doc.inventory, 'inv.yml');
  assert.equal(doc.limit, 'robot-*');
  assert.equal(doc.checkMode, false);
  assert.equal(doc.hosts['robot-0007']!.status, 'failed');
  assert.equal(doc.hosts['robot-0007']!.details.interface, 'wlan0');
  assert.deepEqual(doc.hosts['robot-0008']!.error, { kind: 'unreachable', message: 'no SSH answer within 10 s' });
});

test('all robots unreachable in a check: compliance 0 of N, all unknown', () => {
  const r = fleet(20).filter((x) => x.status === 'unreachable');
  const s = summarize(r, 'check');
  assert.equal(s.compliant, 0);
  assert.equal(s.unknown, 2);
  assert.match(recapText(r, info('check')), /compliant=0\/2 \(2 unknown\)/);
});

test('a dry run says so at the top of the recap, in the JSON, the JUnit and the HTML', () => {
  const r: HostResult[] = [{ host: 'a', status: 'changed', changes: ['add live rule'], reasons: [], warnings: [], diffs: [], details: {}, error: null }];
  const i = info('apply', { checkMode: true });
  const text = recapText(r, i);
  assert.match(text.split('\n')[0]!, /^DRY RUN \(--check\): nothing was changed/);
  assert.match(text, /a +would-change /);
  assert.match(text, /apply \(dry run\) recap: 1 robot {2}ok=0 {2}would_change=1/);
  assert.equal(runDocument(r, i).checkMode, true);
  assert.match(junitXml(r, i), /<property name="checkMode" value="true"\/>/);
  const html = htmlReport(r, i);
  assert.match(html, /<h1>fleetmasq apply \(dry run\)/);
  assert.match(html, /id="dry-run">DRY RUN/);
});

test('JUnit is well-formed XML with the right counts', async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmj-'));
  writeFileSync(join(d, 'j.xml'), junitXml(fleet(50), info('check')));
  const py = await run('python3', [
    '-c',
    'import sys,xml.etree.ElementTree as E; r=E.parse(sys.argv[1]).getroot(); s=r.find("testsuite"); print(r.get("tests"), r.get("failures"), r.get("errors"), r.get("skipped"), len(s.findall("testcase")), len(s.findall("testcase/failure")))',
    join(d, 'j.xml'),
  ]);
  assert.equal(py.stdout.trim(), '50 5 5 5 50 5');
});

const CHROMIUM = '/usr/bin/chromium';
test('the HTML report renders in headless Chromium: counts match the JSON, filtering works, 1,000 robots', { timeout: 120_000, skip: !existsSync(CHROMIUM) && !process.env.CI && 'chromium not installed' }, async () => {
  const { chromium } = await import('playwright-core');
  const results = fleet(1000);
  const doc = runDocument(results, info('check'));
  const d = mkdtempSync(join(tmpdir(), 'fmh-'));
  const file = join(d, 'report.html');
  writeFileSync(file, htmlReport(results, info('check')));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    assert.ok(requests.every((u) => u.startsWith('file://')), `no network needed: ${requests.join(', ')}`);
    assert.equal(await page.locator('.tile').count(), 1000);
    // Counts on the page match the JSON document.
    const counts = Object.fromEntries(
      await page.$$eval('.count', (els) => els.map((e) => [(e as HTMLElement).dataset.state!, Number(e.querySelector('span')!.textContent)])),
    );
    const byState: Record<string, number> = {};
    for (const r of results) byState[tileState(r)] = (byState[tileState(r)] ?? 0) + 1;
    assert.deepEqual(counts, byState);
    assert.equal(counts.compliant, doc.summary.compliant);
    assert.equal(counts.noncompliant, doc.summary.nonCompliant);
    assert.equal(counts.unreachable, doc.summary.unreachable);
    // Filter by state: only non-compliant robots.
    for (const s of ['compliant', 'unreachable', 'skipped']) await page.click(`.count[data-state="${s}"]`);
    assert.equal(await page.locator('.tile').count(), 100);
    assert.equal(await page.locator('#rows tr[data-state="noncompliant"]').count(), 100);
    const reasons = await page.locator('#row-robot-0007 td.reasons').textContent();
    assert.match(reasons!, /persistence missing: <no unit> & "quotes"/, 'text is shown, not interpreted as HTML');
    // Filter by name on top.
    await page.fill('#q', 'robot-00');
    assert.equal(await page.locator('.tile').count(), 10);
    assert.match((await page.textContent('#shown'))!, /^10 of 1000 shown$/);
    await page.screenshot({ path: join(d, 'report.png') });
  } finally {
    await browser.close();
  }
});

test('the live view: a robot that finished before its line existed shows how it ended, never "not run"', async () => {
  // In a process of its own: listr2 writes to that process's stdout.
  const script = `
    const { ttyProgress } = await import('./dist/src/cli/progress-tty.js');
    const p = ttyProgress(['a', 'b'], 'check on 2 robot(s)');
    const base = { changes: [], reasons: [], warnings: [], diffs: [], details: {}, error: null };
    // Events at once, before listr2 has started the robots' lines.
    p.onEvent({ type: 'start', host: 'a' });
    p.onEvent({ type: 'done', result: { host: 'a', status: 'ok', ...base } });
    p.onEvent({ type: 'start', host: 'b' });
    p.onEvent({ type: 'done', result: { host: 'b', status: 'ok', compliant: false, ...base } });
    p.notice('interrupted: letting robots in flight finish their step');
    await p.stop();`;
  const r = await run(process.execPath, ['--input-type=module', '-e', script]);
  const out = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  assert.match(out, /a: ok/);
  assert.match(out, /b: noncompliant/);
  assert.doesNotMatch(out, /not run/);
  assert.match(out, /✔ a: ok\n/, 'its final line');
  assert.match(out, /check on 2 robot\(s\): 2\/2 done.*interrupted: letting robots in flight/);
});

test("progress lines say what the recap says: a dry run's robot would-change, an unreachable one is not 'unreachable (unreachable…)', one robot is '1 robot'", async () => {
  const { plainProgress } = await import('../../src/cli/progress.js');
  const lines: string[] = [];
  const p = plainProgress({ out: () => {}, err: (s) => lines.push(s), isTTY: false }, { checkMode: true });
  const base = { changes: [], reasons: [], warnings: [], diffs: [], details: {}, error: null };
  p.onEvent({ type: 'done', result: { host: 'cam-01', status: 'changed', ...base, changes: ['add the rule'] } });
  p.onEvent({ type: 'done', result: { host: 'cam-02', status: 'unreachable', ...base, error: { kind: 'unreachable', message: 'no SSH answer within 10 s' } } });
  p.onEvent({ type: 'done', result: { host: 'cam-03', status: 'failed', ...base, error: { kind: 'command', message: "step 'rule' failed" } } });
  assert.deepEqual(lines, ['[cam-01] would-change', '[cam-02] unreachable (no SSH answer within 10 s)', "[cam-03] failed (command: step 'rule' failed)"]);
  const r: HostResult = { host: 'cam-01', status: 'changed', ...base, changes: ['add the rule'] };
  assert.match(recapText([r], info('apply', { checkMode: true })), /cam-01 +would-change/);
  assert.match(recapText([r], info('apply')), /apply recap: 1 robot {2}ok=0/);
});

test("the diagnose page's title counts every robot, the failed and unreachable ones included", async () => {
  const { diagnoseHtml } = await import('../../src/report/diagnose.js');
  const base = { changes: [], reasons: [], warnings: [], diffs: [], details: {} };
  const results: HostResult[] = [
    { host: 'a', status: 'failed', ...base, error: { kind: 'command', message: 'the diagnose program gave no result' } },
    { host: 'b', status: 'unreachable', ...base, error: { kind: 'unreachable', message: 'no answer' } },
  ];
  const page = diagnoseHtml(results, { inventory: 'inv.yml', startedAt: new Date() });
  const h1 = /<h1[^>]*>([^<]*)<\/h1>/.exec(page)![1]!;
  assert.match(h1, /1 unreachable/);
  assert.match(h1, /1 failed/);
  assert.match(h1, /of 2 robots$/);
});

test('one declaration of the robot fields: the table, the HTML, JUnit and Prometheus show each declared field in the same words (PERSIST missing is missing everywhere)', async () => {
  const { ROBOT_FIELDS, fieldText } = await import('../../src/report/fields.js');
  const { promText } = await import('../../src/report/prom.js');
  const r: HostResult = {
    host: 'cam-01',
    status: 'failed',
    compliant: false,
    changes: [],
    reasons: [{ code: 'unit-missing', text: 'persistence missing: no fleetmasq-masquerade.service' }],
    warnings: [],
    diffs: [],
    error: null,
    details: { interface: 'wlan0', backend: 'nft', persistence: 'systemd', persistenceInstalled: false, bootId: '4f1c2a3b-1111-2222-3333-444455556666', ruleCount: 1, duplicates: 0, firedThisBoot: false, checkedAt: '2026-11-25T03:00:00.000Z' },
  };
  const i = info('check');
  const text = recapText([r], i);
  assert.match(text, /cam-01 +noncompliant +wlan0 +nft +missing /);
  const html = htmlReport([r], i);
  const data = JSON.parse(/<script id="data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!);
  const junit = junitXml([r], i);
  const prom = await promText([r], i, () => []);
  for (const f of ROBOT_FIELDS) {
    const words = fieldText(f, r);
    if (f.table) assert.ok(text.split('\n')[0]!.includes(f.table.header), `${f.key}: a column of the table`);
    if (f.html) {
      assert.ok(html.includes(`<th>${f.html.header}</th>`), `${f.key}: a column of the page`);
      assert.equal(data.robots[0].fields[f.key], words || null, `${f.key}: the page says what the table says`);
    }
    if (f.junit && words) assert.ok(junit.includes(`${f.key}=${words}`), `${f.key}: a JUnit property`);
    if (f.prom && 'label' in f.prom) assert.match(prom, new RegExp(`${f.prom.label}="${words}"`), `${f.key}: a Prometheus label`);
    if (f.prom && 'gauge' in f.prom && f.prom.value(r.details) !== undefined) assert.match(prom, new RegExp(`^${f.prom.gauge}\\{robot="cam-01"\\} ${f.prom.value(r.details)}$`, 'm'), `${f.key}: a gauge`);
  }
  assert.equal(data.robots[0].fields.persistence, 'missing', 'the page does not say systemd for a robot whose table says missing');
  // The recap counts it as what it is.
  assert.match(text, /failed=0 {2}noncompliant=1/);
});

test('long DETAILS are broken between words at the terminal width, each further line under the DETAILS column', () => {
  const long = 'step rule failed (exit 4): iptables v1.8.9 (nf_tables): Could not process rule: No such file or directory; Perhaps iptables or your kernel needs to be upgraded.';
  const r: HostResult = { host: 'cam-01', status: 'failed', changes: [], reasons: [], warnings: [], diffs: [], details: {}, error: { kind: 'command', message: long } };
  const text = recapText([r], info('apply'), { width: 80 });
  const rows = text.split('\n').slice(1, text.split('\n').findIndex((l) => l === ''));
  assert.ok(rows.length > 1, 'wrapped');
  const col = text.split('\n')[0]!.indexOf('DETAILS');
  for (const l of rows) assert.ok(l.length <= 80, `within 80 columns: ${l}`);
  for (const l of rows.slice(1)) assert.equal(l.slice(0, col).trim(), '', `under the DETAILS column: ${l}`);
  const words = rows.map((l, i) => (i ? l.slice(col) : l.slice(col))).join(' ');
  assert.equal(words, `command: ${long}`, 'every word whole, none broken');
  assert.equal(recapText([r], info('apply')).split('\n')[1]!.endsWith(long), true, 'not wrapped without a width (a pipe)');
});

test("a dry run's robot that would change (not compliant yet) is would-change, not noncompliant, and does not fail the run", () => {
  const r: HostResult = { host: 'multi', status: 'changed', compliant: false, changes: ['add the live rule'], reasons: [], warnings: [], diffs: [], details: { checkMode: true }, error: null };
  const i = info('apply', { checkMode: true });
  assert.match(recapText([r], i), /multi +would-change /);
  const s = summarize([r], 'apply');
  assert.equal(exitCode(s, { interrupted: false }), 0);
  assert.equal(runDocument([r], i).hosts.multi!.state, 'would-change');
});
