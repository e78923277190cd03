/** diagnose's outputs (pure): the terminal table, the fleet summary, and the HTML with the attempt grid. */
import type { HostResult } from '../runner/types.js';
import { robotsText } from './summary.js';
import { whyLines } from './fields.js';
import type { Attempt, Diagnosis, Verdict } from '../diagnose/verdict.js';

export interface DiagnoseSummary {
  robots: number;
  affected: number;
  protected: number;
  notAffected: number;
  changesDespite: number;
  inconclusive: number;
  cannotDiagnose: number;
  unreachable: number;
  failed: number;
}

export function diagnoseSummary(results: HostResult[]): DiagnoseSummary {
  const v = (x: Verdict) => results.filter((r) => r.details.diagnosis?.verdict === x).length;
  return {
    robots: results.length,
    affected: v('affected-unprotected'),
    protected: v('protected'),
    notAffected: v('not-affected'),
    changesDespite: v('changes-despite-masquerading'),
    inconclusive: v('inconclusive'),
    cannotDiagnose: results.filter((r) => r.status === 'skipped').length,
    unreachable: results.filter((r) => r.status === 'unreachable').length,
    failed: results.filter((r) => r.status === 'failed' && !r.details.diagnosis).length,
  };
}

/** The page's title line: every kind of robot the run met, the failed and unreachable ones included. */
export function diagnoseHeadline(s: DiagnoseSummary): string {
  const parts = [
    `${s.affected} affected and unprotected`,
    `${s.protected} protected`,
    `${s.notAffected} not affected`,
    ...(s.changesDespite ? [`${s.changesDespite} changing despite masquerading`] : []),
    ...(s.inconclusive ? [`${s.inconclusive} inconclusive`] : []),
    ...(s.cannotDiagnose ? [`${s.cannotDiagnose} could not be diagnosed`] : []),
    ...(s.unreachable ? [`${s.unreachable} unreachable`] : []),
    ...(s.failed ? [`${s.failed} failed`] : []),
  ];
  return `${parts.join(', ')} of ${robotsText(s.robots)}`;
}

const mark = (a: Attempt) => (!a.before || !a.after ? '·' : a.changed ? 'X' : 'o');

function abLine(d: Diagnosis): string {
  if (!d.ab) return '';
  return `; A/B: changed ${d.ab.without.changes}/${d.ab.without.answered} without, ${d.ab.with.changes}/${d.ab.with.answered} with${d.ab.restored ? '' : ' (NOT restored)'}`;
}

export function diagnoseText(results: HostResult[]): string {
  const w = Math.max(5, ...results.map((r) => r.host.length));
  const lines = [`${'ROBOT'.padEnd(w)}  ${'VERDICT'.padEnd(28)}  ${'CHANGED'.padEnd(8)}  ${'LEAK'.padEnd(16)}  DETAILS`];
  for (const r of results) {
    const d = r.details.diagnosis;
    if (!d) {
      const why = whyLines(r).join('; ');
      lines.push(`${r.host.padEnd(w)}  ${(r.status === 'skipped' ? 'cannot-diagnose' : r.status).padEnd(28)}  ${'-'.padEnd(8)}  ${'-'.padEnd(16)}  ${why}`);
      continue;
    }
    const grid = d.ab ? d.ab.groups.map((g) => `${g.masquerade ? 'on ' : 'off'} ${g.attempts.map(mark).join('')}`).join(' | ') : d.attempts.map(mark).join('');
    lines.push(
      `${r.host.padEnd(w)}  ${d.verdict.padEnd(28)}  ${`${d.tally.changes}/${d.tally.answered}`.padEnd(8)}  ${(d.leak?.result ?? '-').padEnd(16)}  ${grid}${abLine(d)}`,
    );
    for (const warn of r.warnings) lines.push(`${''.padEnd(w)}  ! ${warn}`);
  }
  const s = diagnoseSummary(results);
  lines.push(
    '',
    `diagnose recap: ${robotsText(s.robots)}  affected=${s.affected}  protected=${s.protected}  not-affected=${s.notAffected}  inconclusive=${s.inconclusive}  changes-despite-masquerading=${s.changesDespite}  cannot-diagnose=${s.cannotDiagnose}  unreachable=${s.unreachable}  failed=${s.failed}`,
    'grid: X the public IP changed right after the attempt, o it did not, · no STUN answer',
  );
  return lines.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** One self-contained page: the fleet summary, and per robot the attempt grid (groups × attempts with --ab). */
export function diagnoseHtml(results: HostResult[], info: { inventory: string; startedAt: Date }): string {
  const s = diagnoseSummary(results);
  const cell = (a: Attempt) =>
    `<td class="${!a.before || !a.after ? 'na' : a.changed ? 'chg' : 'same'}" title="${esc(`${a.before ?? '?'} → ${a.after ?? '?'}`)}">${!a.before || !a.after ? '·' : a.changed ? '✕' : '○'}</td>`;
  const robot = (r: HostResult) => {
    const d = r.details.diagnosis;
    if (!d) return `<section><h2>${esc(r.host)} <span class="v other">${esc(r.status === 'skipped' ? 'cannot diagnose' : r.status)}</span></h2><p>${esc(whyLines(r).join('; '))}</p></section>`;
    const rows = d.ab
      ? d.ab.groups.map((g, i) => `<tr><th>group ${i + 1}: ${g.masquerade ? 'with' : 'without'}</th>${g.attempts.map(cell).join('')}</tr>`).join('')
      : `<tr><th>attempts</th>${d.attempts.map(cell).join('')}</tr>`;
    const totals = d.ab ? `<p class="tot">changed ${d.ab.without.changes}/${d.ab.without.answered} without, ${d.ab.with.changes}/${d.ab.with.answered} with${d.ab.restored ? '' : ' — NOT restored'}</p>` : '';
    return `<section><h2>${esc(r.host)} <span class="v ${d.verdict}">${esc(d.verdict)}</span></h2><table class="grid">${rows}</table>${totals}<p class="muted">STUN ${esc(d.server)} · leak test: ${esc(d.leak?.result ?? 'not run')} · masquerading ${d.masquerading ? 'in effect' : 'not in effect'} (${d.masqueradingFrom})</p></section>`;
  };
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>fleetmasq diagnose — ${robotsText(s.robots)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1c1f24}header{background:#1c1f24;color:#fff;padding:14px 20px}main{padding:16px 20px}
section{background:#fff;border:1px solid #e3e6ea;border-radius:6px;padding:10px 14px;margin-bottom:10px}h2{font-size:15px;margin:0 0 6px}.grid td{width:22px;height:22px;text-align:center;border:1px solid #e3e6ea}
.grid th{text-align:left;font-weight:500;padding-right:10px}.chg{background:#d93b3b;color:#fff}.same{background:#e6f4ea}.na{background:#eee;color:#888}.v{font-size:12px;padding:1px 6px;border-radius:4px;color:#fff;background:#8a8f98}
.v.affected-unprotected{background:#d93b3b}.v.protected{background:#2e9d4f}.v.not-affected{background:#2f6fd6}.v.changes-despite-masquerading{background:#a01818}.tot{font-weight:600}.muted{color:#6b717b;font-size:12px}</style></head>
<body><header><h1 style="margin:0;font-size:18px">fleetmasq diagnose: ${esc(diagnoseHeadline(s))}</h1>
<p style="margin:4px 0 0;color:#b8bdc6">inventory ${esc(info.inventory)} · ${esc(info.startedAt.toISOString())} · ✕ the public IP changed right after the attempt, ○ it did not, · no STUN answer</p></header>
<main id="fleet" data-summary="${esc(JSON.stringify(s))}">${results.map(robot).join('\n')}</main></body></html>
`;
}
