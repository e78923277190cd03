/**
 * diagnose (issue 13), fast tier: STUN messages, the hotspot model, the verdicts, and the real robot
 * program under a real python3 against the model on loopback (as a normal user: no leak test, no A/B).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { bindingRequest, bindingSuccess, decode, BINDING_REQUEST, BINDING_SUCCESS } from '../../src/diagnose/stun.js';
import { HotspotModel, rng } from '../../lab/hotspot.js';
import { diagnose, MalformedResult, parseRobotResult, type Attempt } from '../../src/diagnose/verdict.js';
import { DIAGNOSE_PY, diagnoseScript } from '../../src/remote/diagnose.js';
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

/** A Binding success for `tid` whose body is `body` (attributes as given, lengths unchecked). */
const reply = (tid: Buffer, body: Buffer, len = body.length) => {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(BINDING_SUCCESS, 0);
  h.writeUInt16BE(len, 2);
  h.writeUInt32BE(0x2112a442, 4);
  tid.copy(h, 8);
  return Buffer.concat([h, body]);
};
/** Malformed replies: an address attribute cut short, lengths past the end, an odd family, noise. */
const malformed = (tid: Buffer): Buffer[] => [
  reply(tid, Buffer.from([0x00, 0x20, 0x00, 0x08, 0x00])),
  reply(tid, Buffer.from([0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0x12])),
  reply(tid, Buffer.from([0x00, 0x01, 0x00, 0x08]), 8),
  reply(tid, Buffer.from([0x00, 0x20, 0xff, 0xff, 1, 2, 3, 4]), 0xffff),
  reply(tid, Buffer.from([0x00, 0x20, 0x00, 0x08, 0x00, 0x02, 0, 0, 1, 2, 3, 4])),
  reply(tid, Buffer.alloc(0), 40),
  Buffer.concat([reply(tid, Buffer.alloc(0)).subarray(0, 19)]),
];

test('STUN decode: malformed and truncated messages are no answer, never an exception', () => {
  const tid = Buffer.alloc(12, 7);
  const good = bindingSuccess(tid, { address: '203.0.113.9', port: 4242 });
  for (let n = 0; n <= good.length; n++) assert.doesNotThrow(() => decode(good.subarray(0, n)), `cut at ${n}`);
  for (const b of malformed(tid)) assert.equal(decode(b)?.mapped, undefined, b.toString('hex'));
  const r = rng(11);
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(Array.from({ length: Math.floor(r() * 80) }, () => Math.floor(r() * 256)));
    if (b.length >= 8) b.writeUInt32BE(0x2112a442, 4);
    assert.doesNotThrow(() => decode(b));
  }
});

test('the robot program: a STUN server answering malformed replies is no answer, and the program still ends with its result', async (t) => {
  if (!(await run('python3', ['--version'], { nothrow: true }).catch(() => undefined))?.ok) return t.skip('no python3 here');
  const sock = createSocket('udp4');
  let n = 0;
  sock.on('message', (msg, rinfo) => {
    const req = decode(msg);
    if (!req) return;
    const all = malformed(req.transactionId);
    // Every malformed kind in turn (one per request), then noise that is not even STUN.
    for (const b of [all[n++ % all.length]!, Buffer.from('garbage')]) sock.send(b, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const params = { uplink: 'lo', uplinkAddr: '127.0.0.1', addrs: ['127.0.0.1'], ifaces: ['lo'], server: ['127.0.0.1', sock.address().port], attempts: 4, timeout: 0.3, candidateTimeout: 0.2, settle: 0.01, gap: 0.01, leak: false, systemd: false };
  const r = await run('python3', ['-I', '-', JSON.stringify(params)], { input: DIAGNOSE_PY, nothrow: true });
  sock.close();
  assert.equal(r.exitCode, 0, r.stderr);
  assert.ok(n >= 4, 'the server answered');
  const res = parseRobotResult(r.stdout)!;
  assert.equal(res.crash, undefined);
  assert.equal(res.attempts!.length, 4);
  assert.ok(res.attempts!.every((a) => a.before === null && a.after === null && a.answered === 0), JSON.stringify(res.attempts));
  assert.equal(diagnose(res, false, 'x').verdict, 'inconclusive');
});

test("the robot's result is type-checked: one bad field is that robot's MalformedResult, never a wrong verdict or a crash later", () => {
  const ok = { v: 1, uplinkAddr: '10.0.0.2', addrs: ['10.0.0.2'], leak: { result: 'leaks', from: '172.17.0.1', seen: '172.17.0.1' }, attempts: [A(true)] };
  const line = (x: unknown) => `@@FMDIAG ${JSON.stringify(x)}\n`;
  assert.deepEqual(parseRobotResult(line(ok)), ok);
  assert.equal(parseRobotResult('nothing here\n'), undefined);
  const bad: [unknown, RegExp][] = [
    [{ ...ok, attempts: 'many' }, /result\.attempts is not a list/],
    [{ ...ok, attempts: [{ ...A(true), before: 5 }] }, /result\.attempts\[0\]\.before is not an IPv4 address/],
    [{ ...ok, attempts: [{ ...A(true), changed: 'yes' }] }, /changed is not a boolean/],
    [{ ...ok, attempts: [{ before: null, after: null, candidates: 1, answered: 0 }] }, /changed is not there/],
    [{ ...ok, leak: { result: 'pwned' } }, /result\.leak\.result is not a leak result/],
    [{ ...ok, groups: [{ masquerade: true, attempts: null }] }, /groups\[0\]\.attempts is not a list/],
    [{ ...ok, abRestore: { timer: 'systemd', after: 60, original: { wlan0: 'on' } } }, /original\.wlan0 is not a boolean/],
    [{ ...ok, abRestored: 1 }, /abRestored is not a boolean/],
    [{ ...ok, uplinkAddr: '10.0.0.2; rm -rf /' }, /uplinkAddr is not an IPv4 address/],
    [[1, 2], /result is not an object/],
    [null, /result is not an object/],
  ];
  for (const [x, why] of bad) assert.throws(() => parseRobotResult(line(x)), (e: Error) => e instanceof MalformedResult && why.test(e.message), JSON.stringify(x));
  assert.throws(() => parseRobotResult('@@FMDIAG {"v":1,\n'), MalformedResult);
});

test('the diagnose command runs python3 isolated (-I) from /, and with --ab holds the lock for the whole restore window', () => {
  const p = { uplink: 'wlan0', ifaces: ['wlan0'], server: ['stun.example', '3478'] as [string, string], attempts: 5, timeout: 1, candidateTimeout: 0.5, settle: 0.3, gap: 0.2, leak: true, systemd: true };
  const plain = diagnoseScript(p, { expectedS: 40, lock: { runId: 'r1', holder: 'me' } });
  assert.match(plain, /^cd \/$/m);
  assert.ok(plain.indexOf('cd /') < plain.indexOf('python3 -I - '), 'from / before python starts');
  assert.doesNotMatch(plain, /python3 - /);
  assert.doesNotMatch(plain, /fleetmasq\.lock/, 'without --ab nothing is changed, no lock');
  const ab = diagnoseScript({ ...p, ab: { groups: 4, per: 5 }, restoreAfter: 700 }, { expectedS: 300, lock: { runId: 'r1', holder: 'me' }, audit: { by: 'me@ctl', command: 'diagnose --ab' } });
  const ttl = Number(/\$\(\(fm_now \+ (\d+)\)\)/.exec(ab)?.[1]);
  assert.ok(ttl > 700, `the lock (${ttl} s) outlives the restore timer (700 s)`);
  const params = JSON.parse(/python3 -I - '(.*)' <<'FMPY'/.exec(ab)![1]!.replaceAll("'\\''", "'"));
  assert.match(params.restoreSh, /for fm_i in '?wlan0'?; do/);
  // The audit line (src/remote/audit.ts): to the journal and to root's own audit log.
  assert.match(params.audit.off, /fm_am='diagnose --ab by me@ctl: A\/B experiment: masquerading switched off \(wlan0\)'/);
  assert.match(params.audit.off, /logger -t fleetmasq -- "\$fm_am"/);
  assert.match(params.audit.off, />> \/var\/log\/fleetmasq\/audit\.log/);
  assert.match(params.restoreSh, /restored as it was found/);
});

test('a module planted in the working directory is not imported by the robot program', async (t) => {
  if (!(await run('python3', ['--version'], { nothrow: true }).catch(() => undefined))?.ok) return t.skip('no python3 here');
  const { mkdtempSync, writeFileSync, existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const home = mkdtempSync(join(tmpdir(), 'fmhome-'));
  const marker = join(home, 'imported');
  for (const m of ['json', 'random', 'socket', 'struct', 'subprocess', 're'])
    writeFileSync(join(home, `${m}.py`), `open(${JSON.stringify(marker)}, 'a').write(${JSON.stringify(m)} + '\\n')\nraise SystemExit('planted ${m} imported')\n`);
  const script = diagnoseScript({ uplink: 'lo', ifaces: ['lo'], server: ['127.0.0.1', '9'], attempts: 1, timeout: 0.1, candidateTimeout: 0.1, settle: 0, gap: 0, leak: false, systemd: false }, { expectedS: 5 });
  // As sudo runs it: the login user's home as working directory.
  const r = await run('sh', ['-c', script.replace(/^export .*PATH=\S+$/m, 'true')], { cwd: home, nothrow: true });
  assert.ok(!existsSync(marker), `planted modules ran: ${existsSync(marker) ? (await import('node:fs')).readFileSync(marker, 'utf8') : ''}`);
  assert.match(r.stdout, /^@@FMDIAG /m, r.stderr);
});
