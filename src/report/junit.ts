/** JUnit XML: a testcase per robot; non-compliant/failed robots are failures, unreachable ones errors. */
import type { HostResult } from '../runner/types.js';
import { summarize, type RunInfo } from './summary.js';
import { fieldText, ROBOT_FIELDS, whyLines } from './fields.js';

export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function junitXml(results: HostResult[], info: RunInfo): string {
  const command = info.command;
  const s = summarize(results, command);
  const time = (r: HostResult) => ((r.durationMs ?? 0) / 1000).toFixed(3);
  const total = results.reduce((a, r) => a + (r.durationMs ?? 0), 0) / 1000;
  const cases = results.map((r) => {
    const props = ROBOT_FIELDS.filter((f) => f.junit && fieldText(f, r))
      .map((f) => `${f.key}=${fieldText(f, r)}`)
      .join('\n');
    let body = '';
    if (r.status === 'unreachable' || (r.status === 'failed' && r.error)) {
      body = `\n      <error type="${xmlEscape(r.error?.kind ?? 'error')}" message="${xmlEscape(r.error?.message ?? '')}">${xmlEscape(r.error?.message ?? '')}</error>`;
    } else if (r.status === 'failed') {
      const msg = whyLines(r).join('; ') || 'failed';
      body = `\n      <failure type="${r.compliant === false ? 'non-compliant' : 'failed'}" message="${xmlEscape(msg)}">${xmlEscape(whyLines(r).join('\n'))}</failure>`;
    } else if (r.status === 'skipped') body = `\n      <skipped message="${xmlEscape(whyLines(r).join('; '))}"/>`;
    const out = [props, ...r.changes.map((c) => `change: ${c}`), ...r.warnings.map((w) => `warning: ${w}`)].filter(Boolean).join('\n');
    return `    <testcase classname="fleetmasq.${xmlEscape(command)}" name="${xmlEscape(r.host)}" time="${time(r)}">${body}${out ? `\n      <system-out>${xmlEscape(out)}</system-out>` : ''}\n    </testcase>`;
  });
  const errors = results.filter((r) => r.status === 'unreachable' || (r.status === 'failed' && r.error)).length;
  const failures = results.filter((r) => r.status === 'failed' && !r.error).length;
  const props: [string, string][] = [
    ['command', command],
    ['checkMode', String(info.checkMode)],
    ['inventory', info.inventory],
    ...(info.limit !== undefined ? [['limit', info.limit] as [string, string]] : []),
    ...(info.playbook !== undefined ? [['playbook', info.playbook] as [string, string]] : []),
    ...(info.stopped ? [['stopped', info.stopped] as [string, string]] : []),
  ];
  const attrs = `tests="${s.total}" failures="${failures}" errors="${errors}" skipped="${s.skipped}" time="${total.toFixed(3)}"`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="fleetmasq ${xmlEscape(command)}" ${attrs}>
  <testsuite name="fleetmasq ${xmlEscape(command)}" ${attrs} timestamp="${new Date().toISOString().slice(0, 19)}">
    <properties>
${props.map(([k, v]) => `      <property name="${k}" value="${xmlEscape(v)}"/>`).join('\n')}
    </properties>
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}
