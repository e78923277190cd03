/** status --html (issue 23, item 6): a headline that cannot overstate, stale rows marked, a real time axis, the runs' own compliant/asked. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headline, statusHtml, ticks } from '../../src/report/status-html.js';
import type { Evidence, FleetStatus, RobotStatus, RunPoint } from '../../src/store/types.js';

const NOW = new Date('2026-12-04T03:00:00.000Z');
const ago = (min: number) => new Date(NOW.getTime() - min * 60_000).toISOString();
const ev = (state: Evidence['state'], at: string, command = 'check'): Evidence => ({ state, at, command, runId: `run-${at}`, controller: 'fleet@ctl' });
const robot = (host: string, over: Partial<RobotStatus>): RobotStatus => ({ host, state: 'compliant', stale: false, ...over });
const run = (min: number, compliant: number, asked: number, judged = asked): RunPoint => ({ runId: `r${min}`, at: ago(min), command: 'check', controller: 'fleet@ctl', asked, compliant, judged, dryRun: false });

/** The fleet of the issue: 6 robots, one stale (compliant 3 h ago, unreachable since), one unknown. */
function fleet(): FleetStatus {
  const robots: RobotStatus[] = [
    ...[1, 2, 3, 4].map((i) => robot(`cam-0${i}`, { evidence: ev('compliant', ago(10)), lastSeen: ago(10), bootId: `boot-${i}`, lastResult: { command: 'check', status: 'ok', at: ago(10), runId: 'r10', controller: 'fleet@ctl' } })),
    robot('cam-05', {
      evidence: ev('compliant', ago(180)),
      lastSeen: ago(180),
      stale: true,
      lastResult: { command: 'check', status: 'unreachable', at: ago(10), runId: 'r10', controller: 'fleet@ctl', error: { kind: 'unreachable', message: 'no answer' } },
    }),
    robot('cam-<6>', { state: 'unknown', lastSeen: ago(10), lastResult: { command: 'check', status: 'failed', at: ago(10), runId: 'r10', controller: 'fleet@ctl' } }),
  ];
  return {
    robots,
    summary: { total: 6, compliant: 5, noncompliant: 0, removed: 0, unknown: 1, neverSeen: 0, stale: 1 },
    // 6 h of sweeps; the newest asked about 6 robots and verified 4 (one unreachable, one failed).
    history: [run(360, 6, 6), run(240, 6, 6), run(180, 5, 6, 6), run(10, 4, 6, 4)],
  };
}

test('the headline counts stale and unknown robots as what they are, never "N of N compliant"', () => {
  const st = fleet();
  assert.equal(headline(st, NOW), '4 compliant, 1 stale (compliant 3 h ago), 1 unknown of 6');
  // Every place a robot can be, each robot in one place; a robot silent at its latest run is said.
  const more: FleetStatus = {
    ...st,
    robots: [
      ...st.robots,
      robot('x-nc', { state: 'noncompliant', evidence: ev('noncompliant', ago(5)), lastSeen: ago(5) }),
      robot('x-rm', { state: 'removed', evidence: ev('removed', ago(5), 'remove'), lastSeen: ago(5) }),
      robot('x-new', { state: 'never-seen', stale: true }),
      robot('x-old-nc', { state: 'noncompliant', evidence: ev('noncompliant', ago(3 * 1440)), lastSeen: ago(3 * 1440), stale: true }),
      robot('x-old-unk', { state: 'unknown', lastSeen: ago(300), stale: true }),
      robot('x-silent', { evidence: ev('compliant', ago(20)), lastSeen: ago(20), lastResult: { command: 'check', status: 'unreachable', at: ago(10), runId: 'r10', controller: 'fleet@ctl' } }),
    ],
  };
  assert.equal(
    headline(more, NOW),
    '5 compliant (1 did not answer its latest run), 1 non-compliant, 1 removed, 3 stale (1 compliant 3 h ago, 1 non-compliant 3 d ago, 1 unknown, last seen 5 h ago), 1 unknown, 1 never seen of 12',
  );
  const allStale: FleetStatus = { ...st, robots: [robot('a', { evidence: ev('compliant', ago(120)), lastSeen: ago(120), stale: true }), robot('b', { evidence: ev('compliant', ago(600)), lastSeen: ago(600), stale: true })] };
  assert.equal(headline(allStale, NOW), '0 compliant, 2 stale (compliant 2 h to 10 h ago) of 2');
  assert.equal(headline({ ...st, robots: [] }, NOW), '0 compliant of 0');
});

test('the page: headline, stale row marked, times as ISO, chart points at compliant/asked on a time axis', () => {
  const html = statusHtml(fleet(), { inventory: 'hosts.yml', at: NOW });
  assert.match(html, /<h1 id="headline">fleetmasq status: 4 compliant, 1 stale \(compliant 3 h ago\), 1 unknown of 6<\/h1>/);
  assert.doesNotMatch(html, /6 of 6|5 of 6/);
  // The stale row: its class, a visible badge, how long since it was seen; the others are not marked.
  const rows = [...html.matchAll(/<tr class="([^"]+)" data-state="([^"]+)" data-stale="(\d)"><td>([^<]*)<\/td>(.*?)<\/tr>/g)];
  assert.equal(rows.length, 6);
  const stale = rows.filter((r) => r[3] === '1');
  assert.deepEqual(stale.map((r) => [r[1], r[2], r[4]]), [['stale', 'compliant', 'cam-05']]);
  assert.match(stale[0]![5]!, /<span class="badge stale">STALE<\/span> <span class="age">last seen 3 h ago<\/span>/);
  assert.match(stale[0]![5]!, /no answer at its last run/);
  assert.deepEqual(rows.filter((r) => r[1] === 'unknown').map((r) => r[4]), ['cam-&lt;6&gt;'], 'the name is escaped');
  assert.equal(rows.filter((r) => /badge stale/.test(r[5]!)).length, 1);
  // Times: ISO in the markup, readable UTC text until the script formats them.
  assert.match(html, new RegExp(`<time datetime="${ago(180)}">2026-12-04 00:00 UTC</time>`));
  assert.match(html, /toLocaleString\(\)/);
  assert.doesNotMatch(html, /\b(src|href)=/, 'self-contained');
  // Chart points: the runs' own compliant/asked, a run with robots not judged is not 100%.
  const pts = [...html.matchAll(/<circle class="run" data-at="([^"]+)" data-compliant="(\d+)" data-asked="(\d+)" data-share="([^"]+)" cx="([\d.]+)" cy="([\d.]+)"/g)];
  assert.deepEqual(pts.map((p) => [p[1], Number(p[2]), Number(p[3]), Number(p[4])]), [
    [ago(360), 6, 6, 1],
    [ago(240), 6, 6, 1],
    [ago(180), 5, 6, 5 / 6],
    [ago(10), 4, 6, 4 / 6],
  ]);
  const cy = pts.map((p) => Number(p[6]));
  const full = cy[0]!;
  const zero = Number(/<line x1="48" y1="([\d.]+)" x2="744" y2="\1" stroke="#666"\/>/.exec(html)![1]);
  assert.ok(Math.abs((zero - cy[2]!) / (zero - full) - 5 / 6) < 0.01, `5/6 drawn at 5/6 of the height: ${cy}`);
  assert.ok(Math.abs((zero - cy[3]!) / (zero - full) - 4 / 6) < 0.01, `4/6 drawn at 4/6 of the height: ${cy}`);
  // x is time: the gap between points is proportional to the time between the runs.
  const cx = pts.map((p) => Number(p[5]));
  assert.ok(Math.abs((cx[1]! - cx[0]!) / (cx[3]! - cx[2]!) - 120 / 170) < 0.01, `${cx}`);
  // Ticks at whole hours across the 6 h, labelled with the date and the time.
  const tl = [...html.matchAll(/<text class="tick-label" data-t="([^"]+)"[^>]*><tspan class="d"[^>]*>([^<]+)<\/tspan><tspan class="h"[^>]*>([^<]+)<\/tspan>/g)];
  assert.ok(tl.length >= 4 && tl.length <= 8, `${tl.length} ticks`);
  for (const t of tl) {
    const when = Date.parse(t[1]!);
    assert.equal(when % 3_600_000, 0, 'a whole hour');
    assert.ok(when >= Date.parse(ago(360)) && when <= Date.parse(ago(10)));
    assert.equal(`${t[2]}T${t[3]!.replace(' UTC', '')}:00.000Z`, t[1]);
  }
});

test('ticks: whole steps, a handful across any span', () => {
  const t0 = Date.parse('2026-11-01T00:07:00Z');
  for (const span of [10 * 60_000, 3_600_000, 6 * 3_600_000, 86_400_000, 14 * 86_400_000, 365 * 86_400_000]) {
    const ts = ticks(t0, t0 + span);
    assert.ok(ts.length >= 2 && ts.length <= 8, `${span}: ${ts.length}`);
    assert.ok(ts.every((t, i) => t >= t0 && t <= t0 + span && (i === 0 || t > ts[i - 1]!)));
  }
});

test('no run judged yet: the page says so instead of drawing an empty chart', () => {
  const html = statusHtml({ ...fleet(), history: [] }, { inventory: 'h', at: NOW });
  assert.match(html, /<p id="no-history">No run has judged compliance yet\.<\/p>/);
  assert.doesNotMatch(html, /<svg/);
});

const CHROMIUM = '/usr/bin/chromium';
test('status --html in headless Chromium: times in the reader\'s zone, readable without script, no network', { timeout: 120_000, skip: !existsSync(CHROMIUM) && !process.env.CI && 'chromium not installed' }, async (t) => {
  const { chromium } = await import('playwright-core');
  const d = mkdtempSync(join(tmpdir(), 'fmsh-'));
  const file = join(d, 'status.html');
  writeFileSync(file, statusHtml(fleet(), { inventory: 'hosts.yml', at: NOW }));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'] });
  try {
    const ctx = await browser.newContext({ timezoneId: 'Asia/Tokyo', locale: 'en-US', viewport: { width: 1000, height: 900 } });
    const page = await ctx.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`file://${file}`);
    assert.deepEqual(errors, []);
    assert.ok(requests.every((u) => u.startsWith('file://')), `no network: ${requests.join(', ')}`);
    assert.equal(await page.locator('#headline').innerText(), 'fleetmasq status: 4 compliant, 1 stale (compliant 3 h ago), 1 unknown of 6');
    // The stale row is marked where a reader sees it.
    const staleRow = page.locator('tr[data-stale="1"]');
    assert.equal(await staleRow.count(), 1);
    assert.match(await staleRow.innerText(), /cam-05\s+compliant STALE last seen 3 h ago/);
    assert.ok(await staleRow.locator('.badge.stale').isVisible());
    assert.notEqual(await staleRow.locator('td').first().evaluate((e) => getComputedStyle(e).backgroundColor), await page.locator('tr.compliant td').first().evaluate((e) => getComputedStyle(e).backgroundColor));
    // Times in the reader's zone (Tokyo is UTC+9): 00:00 UTC is 9:00 AM there.
    const evidence = page.locator(`tr[data-stale="1"] time[datetime="${ago(180)}"]`).first();
    assert.equal(await evidence.innerText(), new Date(ago(180)).toLocaleString('en-US', { timeZone: 'Asia/Tokyo' }));
    assert.match(await evidence.innerText(), /12\/4\/2026, 9:00:00 AM/);
    const tick = page.locator('text.tick-label').first();
    const tickIso = (await tick.getAttribute('data-t'))!;
    assert.equal(await tick.locator('tspan.h').textContent(), new Date(tickIso).toLocaleTimeString('en-US', { timeZone: 'Asia/Tokyo', hour: '2-digit', minute: '2-digit' }));
    assert.equal(await page.locator('circle.run').count(), 4);
    const shot = join(d, 'status.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    // Without script: the same page, times in UTC.
    const plain = await browser.newContext({ javaScriptEnabled: false, timezoneId: 'Asia/Tokyo' });
    const p2 = await plain.newPage();
    await p2.goto(`file://${file}`);
    assert.equal(await p2.locator(`tr[data-stale="1"] time[datetime="${ago(180)}"]`).first().innerText(), '2026-12-04 00:00 UTC');
    assert.match((await p2.locator('text.tick-label').first().textContent())!, /^2026-12-0\d\d\d:00 UTC$/, 'date and time tspans, in UTC');
  } finally {
    await browser.close();
  }
});
