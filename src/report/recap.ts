/** The recap printed after a run (pure: returns text). */
import type { HostResult } from '../runner/types.js';
import { summarize } from './summary.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function recapText(command: string, results: HostResult[], opts: { diff?: boolean; maxRows?: number } = {}): string {
  const lines: string[] = [];
  const s = summarize(results);
  const maxRows = opts.maxRows ?? 200;
  const shown = results.length > maxRows ? results.filter((r) => r.status !== 'ok') : results;
  const w = Math.max(5, ...shown.map((r) => r.host.length));
  lines.push(`${pad('ROBOT', w)}  ${pad('STATUS', 11)}  ${pad('IFACE', 8)}  ${pad('BACKEND', 7)}  ${pad('PERSIST', 8)}  DETAILS`);
  for (const r of shown) {
    const d = r.details;
    const status = r.compliant === undefined ? r.status : `${r.status}${r.compliant ? '' : '*'}`;
    const detail =
      r.error
        ? `${r.error.kind}: ${r.error.message}`
        : r.reasons.length
          ? r.reasons.join('; ')
          : r.changes.length
            ? r.changes.join('; ')
            : command === 'check' || command === 'verify'
              ? `compliant${d.firedThisBoot ? ', fired at this boot' : ', not yet proven by a reboot'}`
              : 'nothing to change';
    lines.push(
      `${pad(r.host, w)}  ${pad(status, 11)}  ${pad(String(d.interface ?? '-'), 8)}  ${pad(String(d.backend ?? '-'), 7)}  ${pad(String(d.persistence ?? '-'), 8)}  ${detail}`,
    );
    for (const warn of r.warnings) lines.push(`${pad('', w)}  ! ${warn}`);
    if (opts.diff) for (const diff of r.diffs) lines.push(diff.replace(/^/gm, `${pad('', w)}  | `).trimEnd());
  }
  if (shown.length < results.length) lines.push(`(${results.length - shown.length} robots ok, not listed)`);
  const parts = [`ok=${s.ok}`, `changed=${s.changed}`, `unreachable=${s.unreachable}`, `failed=${s.failed}`, `skipped=${s.skipped}`];
  if (s.compliant !== undefined) parts.push(`compliant=${s.compliant}/${s.compliant + (s.nonCompliant ?? 0)}`);
  lines.push('', `${command} recap: ${s.total} robots  ${parts.join('  ')}`);
  if (results.some((r) => r.compliant === false)) lines.push('(* = non-compliant)');
  return lines.join('\n');
}
