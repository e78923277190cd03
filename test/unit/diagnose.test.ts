/**
 * diagnose (issue 13), fast tier: STUN messages, the hotspot model, the verdicts, and the real robot
 * program under a real python3 against the model on loopback (as a normal user: no leak test, no A/B).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { bindingRequest, bindingSuccess, decode, BINDING_REQUEST, BINDING_SUCCESS } from '../../src/diagnose/stun.js';
import { HotspotModel, rng } from '../../src/lab/hotspot.js';
import { diagnose, parseRobotResult, type Attempt } from '../../src/diagnose/verdict.js';
import { DIAGNOSE_PY } from '../../src/remote/diagnose.js';
import { run } from '../../src/util/proc.js';

test('STUN: a Binding request and its success response round-trip (XOR-MAPPED-ADDRESS)', () => {
  const req = bindingRequest();
  const m = decode(req)!;
  assert.equal(m.type, BINDING_REQUEST);
  const res = decode(bindingSuccess(m.transactionId, { address: '203.0.113.77', port: 40001 }))!;
  assert.equal(res.type, BINDING_SUCCESS);
  assert.deepEqual(res.transactionId, m.transactionId);
  assert.deepEqual(res.mapped, { address: '203.0.113.77', port: 40001 });
  assert.equal(decode(Buffer.from('not stun at all, not stun at all')), undefined);
  assert.equal(decode(req.subarray(0, 10)), undefined);
});

test('the hotspot model: LAN sources get their mapping; a foreign source renews the public address with probability p (seeded)', () => {
  const events: string[] = [];
  const h = new HotspotModel({ name: 'h', lan: '10.77.0.10/32', p: 0.8, seed: 7, firstPublic: 20 }, (e) => events.push(e.kind));
  const ask = () => decode(h.receive(bindingRequest(), { address: '10.77.0.10', port: 5000 })!)!.mapped!;
  const first = ask();
  assert.deepEqual(first, { address: '203.0.113.20', port: 40000 });
  assert.deepEqual(ask(), first, 'the same flow keeps its mapping');
  const r = rng(7);
  let renewals = 0;
  for (let i = 0; i < 50; i++) {
    assert.equal(h.receive(bindingRequest(), { address: '172.17.0.1', port: 6000 + i }), undefined, 'no answer to a foreign source');
    if (r() < 0.8) renewals++;
  }
  assert.equal(events.filter((e) => e === 'renewed').length, renewals, 'renewals follow the seeded draws');
  assert.ok(renewals > 30 && renewals < 50);
  assert.notDeepEqual(ask(), first, 'live flows dropped: a new address and port');
  const healthy = new HotspotModel({ name: 'ok', lan: '10.77.0.11/32', p: 0, seed: 1, firstPublic: 30 });
  for (let i = 0; i < 20; i++) healthy.receive(bindingRequest(), { address: '172.17.0.1', port: 7000 });
  assert.equal(healthy.publicAddress, '203.0.113.30');
});

const A = (changed: boolean, answered = true): Attempt => ({ before: answered ? '203.0.113.1' : null, after: answered ? (changed ? '203.0.113.2' : '203.0.113.1') : null, candidates: 2, answered: 1, changed });

test('verdicts, as the issue names them, and the A/B totals of the field note', () => {
  const v = (attempts: Attempt[], leak?: 'masqueraded' | 'leaks', rule = false) => diagnose({ v: 1, attempts, ...(leak ? { leak: { result: leak } } : {}) }, rule, 's:1').verdict;
  assert.equal(v([A(true), A(false)], 'leaks'), 'affected-unprotected');
  assert.equal(v([A(false), A(false)], 'masqueraded'), 'protected');
  assert.equal(v([A(false)], 'leaks'), 'not-affected');
  assert.equal(v([A(false, false)]), 'inconclusive');
  assert.equal(v([A(true)], 'masqueraded'), 'changes-despite-masquerading');
  assert.equal(v([A(false)], undefined, true), 'protected', 'no leak test: the live rule decides');
  const groups = [false, true, false, true].map((m, i) => ({ masquerade: m, attempts: Array.from({ length: 5 }, (_, j) => A(!m && (i * 5 + j) % 5 !== 0)) }));
  const d = diagnose({ v: 1, groups, abRestored: true, leak: { result: 'leaks' } }, false, 's:1');
  assert.deepEqual([d.ab!.without.changes, d.ab!.without.answered, d.ab!.with.changes, d.ab!.with.answered], [8, 10, 0, 10]);
  assert.equal(d.verdict, 'affected-unprotected');
  assert.equal(parseRobotResult('noise\n@@FMDIAG {"v":1,"nopython":true}\n')?.nopython, true);
});

test('the robot program under python3: a robot whose other local address leaks sees its public IP change; a healthy uplink does not', async (t) => {
  if (!(await run('python3', ['--version'], { nothrow: true }).catch(() => undefined))?.ok) return t.skip('no python3 here');
  for (const [p, expectChanges] of [[1, true], [0, false]] as const) {
    const model = new HotspotModel({ name: 'lo', lan: '127.0.0.1/32', p, seed: 3, firstPublic: 40 });
    const sock = createSocket('udp4');
    sock.on('message', (msg, rinfo) => {
      const reply = model.receive(msg, rinfo);
      if (reply) sock.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const params = { uplink: 'lo', uplinkAddr: '127.0.0.1', addrs: ['127.0.0.1', '127.0.0.2'], ifaces: ['lo'], server: ['127.0.0.1', sock.address().port], attempts: 3, timeout: 1, candidateTimeout: 0.3, settle: 0.05, gap: 0.05, leak: false, systemd: false };
    const r = await run('python3', ['-', JSON.stringify(params)], { input: DIAGNOSE_PY, nothrow: true });
    sock.close();
    assert.equal(r.exitCode, 0, r.stderr);
    const res = parseRobotResult(r.stdout)!;
    assert.equal(res.attempts!.length, 3);
    assert.ok(res.attempts!.every((a) => a.before && a.after), JSON.stringify(res.attempts));
    assert.equal(res.attempts!.some((a) => a.changed), expectChanges, JSON.stringify(res.attempts));
    assert.equal(diagnose(res, false, 'x').verdict, expectChanges ? 'affected-unprotected' : 'not-affected');
  }
});

test('the diagnose HTML renders in headless Chromium: one grid row per A/B group, the marks and the totals', { timeout: 120_000, skip: !(await import('node:fs')).existsSync('/usr/bin/chromium') && !process.env.CI && 'chromium not installed' }, async () => {
  const { chromium } = await import('playwright-core');
  const { diagnoseHtml } = await import('../../src/report/diagnose.js');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const groups = [false, true, false, true].map((m, i) => ({ masquerade: m, attempts: Array.from({ length: 5 }, (_, j) => A(!m && (i * 5 + j) % 5 !== 0)) }));
  const d = diagnose({ v: 1, groups, abRestored: true, leak: { result: 'leaks' } }, false, '10.77.250.1:3478');
  const base = { changes: [], reasons: [], warnings: [], diffs: [], error: null };
  const results = [
    { ...base, host: 'cam-01', status: 'ok' as const, details: { diagnosis: d } },
    { ...base, host: 'nopy', status: 'skipped' as const, reasons: [{ code: 'needs-python3', text: 'cannot diagnose: needs python3' }], details: {} },
  ];
  const file = join(mkdtempSync(join(tmpdir(), 'fmdh-')), 'diagnose.html');
  writeFileSync(file, diagnoseHtml(results, { inventory: 'hosts.yml', startedAt: new Date() }));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(`file://${file}`);
    assert.equal(await page.locator('table.grid tr').count(), 4);
    assert.equal(await page.locator('td.chg').count(), 8);
    assert.equal(await page.locator('td.same').count(), 12);
    assert.match(await page.locator('p.tot').innerText(), /changed 8\/10 without, 0\/10 with/);
    assert.match(await page.locator('header h1').innerText(), /1 affected and unprotected, 0 protected, 0 not affected, 1 could not be diagnosed of 2 robots/);
    assert.match(await page.locator('main').innerText(), /cannot diagnose[\s\S]*needs python3/);
  } finally {
    await browser.close();
  }
});
