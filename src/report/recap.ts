/** The recap printed after a run (pure: returns text). */
import type { HostResult } from '../runner/types.js';
import { DRY_RUN_BANNER, managersText, robotsText, summarize, type RunInfo } from './summary.js';
import { fieldText, ROBOT_FIELDS, statusWord, whyLines } from './fields.js';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export { statusWord };

/** The table's columns between STATUS and DETAILS: the declared fields that have one. */
const COLUMNS = ROBOT_FIELDS.filter((f) => f.table);

/**
 * A row whose DETAILS run past `width` columns, broken between words (a word longer than a whole line
 * is cut, nothing else), each further line indented to the DETAILS column.
 */
export function wrapDetails(head: string, detail: string, width: number | undefined): string {
  if (!width || head.length + detail.length <= width) return head + detail;
  const indent = head.length <= width - 20 ? head.length : 4;
  const room = width - indent;
  const lines: string[] = [];
  let cur = '';
  for (let word of detail.split(' ')) {
    // A first word that does not fit beside the row starts on the next line.
    if (!lines.length && !cur && word.length > width - head.length && word.length <= room) lines.push('');
    while (word.length > room) {
      if (cur) (lines.push(cur), (cur = ''));
      lines.push(word.slice(0, room));
      word = word.slice(room);
    }
    if (cur && cur.length + 1 + word.length > (lines.length ? room : width - head.length)) (lines.push(cur), (cur = word));
    else cur = cur ? `${cur} ${word}` : word;
  }
  if (cur) lines.push(cur);
  return [head + lines[0], ...lines.slice(1).map((l) => ' '.repeat(indent) + l)].join('\n');
}

export function recapText(results: HostResult[], info: RunInfo, opts: { diff?: boolean; maxRows?: number; width?: number } = {}): string {
  const lines: string[] = [];
  const command = info.command;
  if (info.checkMode) lines.push(DRY_RUN_BANNER, '');
  const s = summarize(results, command);
  const maxRows = opts.maxRows ?? 200;
  const shown = results.length > maxRows ? results.filter((r) => r.status !== 'ok') : results;
  const w = Math.max(5, ...shown.map((r) => r.host.length));
  lines.push(`${pad('ROBOT', w)}  ${pad('STATUS', 12)}  ${COLUMNS.map((f) => `${pad(f.table!.header, f.table!.width)}  `).join('')}DETAILS`);
  for (const r of shown) {
    const d = r.details;
    const detail = r.error || r.reasons.length
      ? whyLines(r).join('; ')
      : r.changes.length
          ? r.changes.join('; ')
          : command === 'check' || command === 'verify'
            ? `compliant${d.firedThisBoot ? ', fired at this boot' : ', not yet proven by a reboot'}`
            : 'nothing to change';
    const cols = COLUMNS.map((f) => `${pad(fieldText(f, r) || '-', f.table!.width)}  `).join('');
    lines.push(wrapDetails(`${pad(r.host, w)}  ${pad(statusWord(r, info.checkMode), 12)}  ${cols}`, detail, opts.width));
    if (d.managers?.length) lines.push(`${pad('', w)}  firewall: ${managersText(d.managers)}`);
    for (const warn of r.warnings) lines.push(`${pad('', w)}  ! ${warn}`);
    if (opts.diff) for (const diff of r.diffs) lines.push(diff.replace(/^/gm, `${pad('', w)}  | `).trimEnd());
  }
  if (shown.length < results.length) lines.push(`(${robotsText(results.length - shown.length)} ok, not listed)`);
  // A robot found not compliant is counted as that, not as failed.
  const parts = [`ok=${s.ok}`, `${info.checkMode ? 'would_change' : 'changed'}=${s.changed}`, `unreachable=${s.unreachable}`, `failed=${s.failed}`, ...(s.noncompliant ? [`noncompliant=${s.noncompliant}`] : []), `skipped=${s.skipped}`];
  if (s.compliant !== undefined) parts.push(`compliant=${s.compliant}/${s.total}${s.unknown ? ` (${s.unknown} unknown)` : ''}`);
  lines.push('', `${command}${info.checkMode ? ' (dry run)' : ''} recap: ${robotsText(s.total)}  ${parts.join('  ')}`);
  if (info.stopped) lines.push(`stopped: ${info.stopped}`);
  if (info.record) lines.push(`run record: ${info.record}`);
  if (info.retry)
    lines.push(
      info.retry.hosts.length
        ? `retry file: ${info.retry.file} (${info.retry.hosts.length} robot${info.retry.hosts.length === 1 ? '' : 's'}: run again with --limit @${info.retry.file})`
        : `retry file: ${info.retry.file} (empty: nothing to retry)`,
    );
  return lines.join('\n');
}
