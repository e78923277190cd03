/**
 * The fleet's status as one self-contained page (status --html), from the store's fleet view alone: a
 * headline that counts stale, unknown and never-seen robots as what they are, compliance over time on a
 * real time axis (each point is a run's own compliant/asked), and every robot's last known state with
 * its age. No network; times are ISO (UTC) in the page and a tiny inline script shows them in the
 * reader's local zone (without script the page reads the same, in UTC).
 */
import type { FleetStatus, RobotState, RobotStatus, RunPoint } from '../store/types.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const STATE_TEXT: Record<RobotState, string> = {
  compliant: 'compliant',
  noncompliant: 'non-compliant',
  removed: 'removed',
  unknown: 'unknown',
  'never-seen': 'never seen',
};

/** "3 h", "12 min", "2 d": how long before `now`. */
export function age(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** A time as ISO in the markup, shown in UTC until the page's script shows it in the reader's zone. */
const utcText = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
};
const time = (iso: string) => `<time datetime="${esc(iso)}">${esc(utcText(iso))}</time>`;

/** Where a robot stands in the headline: exactly one place each, so the parts add up to the fleet. */
type Place = 'compliant' | 'noncompliant' | 'removed' | 'unknown' | 'stale' | 'never-seen';
export function placeOf(r: RobotStatus): Place {
  if (r.state === 'never-seen') return 'never-seen';
  if (r.stale) return 'stale';
  return r.state;
}

/** "4 compliant, 1 stale (compliant 3 h ago), 1 unknown of 6": never "6 of 6" while one is stale or unknown. */
export function headline(st: FleetStatus, now: Date): string {
  const by = new Map<Place, RobotStatus[]>();
  for (const r of st.robots) by.set(placeOf(r), [...(by.get(placeOf(r)) ?? []), r]);
  const n = (p: Place) => by.get(p)?.length ?? 0;
  // A robot that did not answer its newest run keeps its last known state (not yet stale): said too.
  const silent = (p: Place) => {
    const k = (by.get(p) ?? []).filter((r) => r.lastResult?.status === 'unreachable').length;
    return k ? ` (${k} did not answer its latest run)` : '';
  };
  const parts: string[] = [];
  parts.push(`${n('compliant')} compliant${silent('compliant')}`);
  if (n('noncompliant')) parts.push(`${n('noncompliant')} non-compliant${silent('noncompliant')}`);
  if (n('removed')) parts.push(`${n('removed')} removed${silent('removed')}`);
  if (n('stale')) {
    // Grouped by their last known state, with the age of that knowledge (a range when several).
    const stale = by.get('stale')!;
    const states = [...new Set(stale.map((r) => r.state))];
    const desc = states.map((state) => {
      const these = stale.filter((r) => r.state === state);
      // Judged: how old the verdict is; unknown: when it was last seen.
      const whens = these.map((r) => (state === 'unknown' ? r.lastSeen : r.evidence?.at ?? r.lastSeen)).filter((w): w is string => !!w);
      const count = states.length > 1 ? `${these.length} ` : '';
      if (!whens.length) return `${count}${STATE_TEXT[state]}`;
      const newest = age(whens.reduce((a, b) => (a > b ? a : b)), now);
      const oldest = age(whens.reduce((a, b) => (a < b ? a : b)), now);
      const span = `${newest === oldest ? newest : `${newest} to ${oldest}`} ago`;
      return `${count}${STATE_TEXT[state]}${state === 'unknown' ? `, last seen ${span}` : ` ${span}`}`;
    });
    parts.push(`${stale.length} stale (${desc.join(', ')})`);
  }
  if (n('unknown')) parts.push(`${n('unknown')} unknown`);
  if (n('never-seen')) parts.push(`${n('never-seen')} never seen`);
  return `${parts.join(', ')} of ${st.robots.length}`;
}

const TICK_STEPS = [60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400].map((s) => s * 1000);

/** Tick times: whole steps (UTC) chosen so about 4 to 8 fall within [t0, t1]. */
export function ticks(t0: number, t1: number): number[] {
  const span = Math.max(1, t1 - t0);
  const step = TICK_STEPS.find((s) => span / s <= 7) ?? Math.ceil(span / 7 / 86400000) * 86400000;
  const out: number[] = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return out;
}

/** Each run's compliant share of every robot it was asked about (a robot not answered is not compliant). */
function chart(history: RunPoint[]): string {
  const pts = history.filter((p) => p.asked > 0 && !Number.isNaN(Date.parse(p.at)));
  if (!pts.length) return '<p id="no-history">No run has judged compliance yet.</p>';
  const W = 760;
  const H = 240;
  const L = 48;
  const R = 16;
  const T = 14;
  const B = 44;
  let t0 = Date.parse(pts[0]!.at);
  let t1 = Date.parse(pts[pts.length - 1]!.at);
  if (t1 - t0 < 600_000) {
    // One run, or runs minutes apart: a window of 10 minutes around them.
    const mid = (t0 + t1) / 2;
    t0 = mid - 300_000;
    t1 = mid + 300_000;
  }
  const x = (t: number) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
  const y = (share: number) => T + (1 - share) * (H - T - B);
  const grid = [0, 0.5, 1]
    .map((v) => `<line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v * 100}%</text>`)
    .join('');
  const tickMarks = ticks(t0, t1)
    .map((t) => {
      const iso = new Date(t).toISOString();
      const [day, hm] = [iso.slice(0, 10), iso.slice(11, 16)];
      return `<g class="tick"><line x1="${x(t).toFixed(1)}" y1="${H - B}" x2="${x(t).toFixed(1)}" y2="${H - B + 5}" stroke="#666"/><text class="tick-label" data-t="${iso}" x="${x(t).toFixed(1)}" y="${H - B + 18}" text-anchor="middle" font-size="11"><tspan class="d" x="${x(t).toFixed(1)}">${day}</tspan><tspan class="h" x="${x(t).toFixed(1)}" dy="13">${hm} UTC</tspan></text></g>`;
    })
    .join('');
  const xy = pts.map((p) => [x(Date.parse(p.at)), y(p.compliant / p.asked)] as const);
  const dots = pts
    .map((p, i) => {
      const share = p.compliant / p.asked;
      const tip = `${p.at} ${p.command}${p.dryRun ? ' (dry run)' : ''} by ${p.controller}: compliant=${p.compliant}/${p.asked}${p.asked > p.judged ? ` (${p.asked - p.judged} not judged)` : ''}`;
      return `<circle class="run" data-at="${esc(p.at)}" data-compliant="${p.compliant}" data-asked="${p.asked}" data-share="${share}" cx="${xy[i]![0].toFixed(1)}" cy="${xy[i]![1].toFixed(1)}" r="3.5"${p.dryRun ? ' fill="#fff" stroke="#2e9d4f"' : ' fill="#2e9d4f"'}><title>${esc(tip)}</title></circle>`;
    })
    .join('');
  return `<svg id="history" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="compliant robots over every robot asked about, run by run, over time">
${grid}<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#666"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#666"/>${tickMarks}
<polyline fill="none" stroke="#2e9d4f" stroke-width="2" points="${xy.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>${dots}</svg>
<p class="note">Each point is one run: the robots it verified compliant over every robot it was asked about (a robot that did not answer counts as not compliant). Hollow points: dry runs.</p>`;
}

function row(r: RobotStatus, now: Date): string {
  const place = placeOf(r);
  const ev = r.evidence;
  const stateCell =
    `<span class="state">${STATE_TEXT[r.state]}</span>` +
    (place === 'stale' ? ` <span class="badge stale">STALE</span> <span class="age">last seen ${r.lastSeen ? `${age(r.lastSeen, now)} ago` : 'never'}</span>` : '') +
    (r.lastResult?.status === 'unreachable' ? ' <span class="badge unreachable">no answer at its last run</span>' : '') +
    (r.futureDated ? ' <span class="badge future">future-dated evidence ignored</span>' : '');
  const evCell = ev ? `${STATE_TEXT[ev.state]} by ${esc(ev.command)} ${time(ev.at)} <span class="age">(${age(ev.at, now)} ago)</span>` : '-';
  const lr = r.lastResult;
  const lrCell = lr ? `${esc(lr.command)} ${esc(lr.status)}${lr.error && lr.error.kind !== lr.status ? ` (${esc(lr.error.kind)})` : ''} ${time(lr.at)}` : '-';
  return `<tr class="${place}" data-state="${r.state}" data-stale="${place === 'stale' ? 1 : 0}"><td>${esc(r.host)}</td><td>${stateCell}</td><td>${r.lastSeen ? `${time(r.lastSeen)} <span class="age">(${age(r.lastSeen, now)} ago)</span>` : 'never'}</td><td>${evCell}</td><td>${lrCell}</td><td><code>${esc(r.bootId ?? '')}</code></td></tr>`;
}

export function statusHtml(st: FleetStatus, info: { inventory: string; at: Date }): string {
  const head = headline(st, info.at);
  const s = st.summary;
  const order: Record<Place, number> = { noncompliant: 0, stale: 1, unknown: 2, 'never-seen': 3, removed: 4, compliant: 5 };
  const robots = [...st.robots].sort((a, b) => order[placeOf(a)] - order[placeOf(b)] || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fleetmasq status: ${esc(head)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#1c1f24}table{border-collapse:collapse}th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}th{background:#eef0f3}
tr.stale td{background:#fff4d6}tr.noncompliant td{background:#fde2e1}tr.unknown td,tr.never-seen td{background:#eceff3}
.badge{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;font-weight:600}.badge.stale{background:#e0a100;color:#fff}.badge.unreachable{background:#777;color:#fff}.badge.future{background:#b3261e;color:#fff}
.age{color:#666}.note{color:#555;font-size:12px}</style></head>
<body><h1 id="headline">fleetmasq status: ${esc(head)}</h1>
<p id="summary">inventory ${esc(info.inventory)} · written ${time(info.at.toISOString())} · compliant ${s.compliant}, non-compliant ${s.noncompliant}, removed ${s.removed}, unknown ${s.unknown}, never seen ${s.neverSeen}; stale ${s.stale} (not seen within the stale limit, counted above under their last known state) — from the store; no robot contacted</p>
<h2>Compliance over time</h2>
${chart(st.history)}
<h2>Robots</h2>
<table id="robots"><thead><tr><th>Robot</th><th>State</th><th>Last seen</th><th>Evidence</th><th>Last result</th><th>Boot id</th></tr></thead><tbody>
${robots.map((r) => row(r, info.at)).join('\n')}
</tbody></table>
<script>(function(){function f(s){var d=new Date(s);return isNaN(d)?null:d}
document.querySelectorAll('time[datetime]').forEach(function(e){var d=f(e.getAttribute('datetime'));if(d){e.title=e.textContent;e.textContent=d.toLocaleString()}});
document.querySelectorAll('text.tick-label').forEach(function(e){var d=f(e.getAttribute('data-t'));if(!d)return;var t=e.querySelectorAll('tspan');t[0].textContent=d.toLocaleDateString();t[1].textContent=d.toLocaleTimeString([],{hour:'2-digit',minute:'2-digit'})});})();</script>
</body></html>
`;
}
