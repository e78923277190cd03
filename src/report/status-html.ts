/** The fleet's status as one self-contained page: compliance over time (a chart) and the robots' last state. */
import type { FleetStatus } from '../store/types.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Compliant share of each judged run, as an SVG line (no script, no network). */
function chart(st: FleetStatus): string {
  const pts = st.history;
  if (!pts.length) return '<p id="no-history">No run has judged compliance yet.</p>';
  const W = 720;
  const H = 200;
  const t0 = Date.parse(pts[0]!.at);
  const span = Math.max(1, Date.parse(pts[pts.length - 1]!.at) - t0);
  const xy = pts.map((p) => [20 + ((Date.parse(p.at) - t0) / span) * (W - 40), H - 20 - (p.compliant / Math.max(1, p.asked)) * (H - 40)] as const);
  const dots = pts
    .map((p, i) => `<circle cx="${xy[i]![0].toFixed(1)}" cy="${xy[i]![1].toFixed(1)}" r="3"><title>${esc(`${p.at} ${p.command}: ${p.compliant}/${p.asked} compliant`)}</title></circle>`)
    .join('');
  return `<svg id="history" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="compliant share of the fleet, run by run">
<line x1="20" y1="${H - 20}" x2="${W - 20}" y2="${H - 20}" stroke="#999"/><line x1="20" y1="20" x2="20" y2="${H - 20}" stroke="#999"/>
<text x="24" y="16" font-size="11">100% compliant</text><text x="24" y="${H - 24}" font-size="11">0%</text>
<polyline fill="none" stroke="#2e9d4f" stroke-width="2" points="${xy.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>${dots}</svg>`;
}

export function statusHtml(st: FleetStatus, info: { inventory: string; at: Date }): string {
  const s = st.summary;
  const rows = st.robots
    .map(
      (r) =>
        `<tr data-state="${r.state}"><td>${esc(r.host)}</td><td>${r.state}${r.stale && r.lastSeen ? ' (stale)' : ''}</td><td>${esc(r.lastSeen ?? 'never')}</td><td>${esc(r.lastResult ? `${r.lastResult.command} ${r.lastResult.status} at ${r.lastResult.at}` : '-')}</td><td>${esc(r.evidence ? `${r.evidence.state} as of ${r.evidence.at}` : '-')}</td><td><code>${esc(r.bootId ?? '')}</code></td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fleetmasq status — ${s.total} robots</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#1c1f24}table{border-collapse:collapse}th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left}th{background:#eef0f3}</style></head>
<body><h1>fleetmasq status: ${s.compliant} of ${s.total} compliant</h1>
<p id="summary">inventory ${esc(info.inventory)} · ${esc(info.at.toISOString())} · compliant ${s.compliant}, non-compliant ${s.noncompliant}, unknown ${s.unknown}, never seen ${s.neverSeen}, stale ${s.stale} — from the run records; no robot contacted</p>
<h2>Compliance over time</h2>
${chart(st)}
<h2>Robots</h2>
<table><thead><tr><th>Robot</th><th>State</th><th>Last seen</th><th>Last result</th><th>Compliant</th><th>Boot id</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}
