/** status: the fleet from the run records alone; no robot is contacted. */
import { writeFileSync } from 'node:fs';
import { ConfigError, EXIT } from '../errors.js';
import { loadSources } from '../inventory/sources.js';
import { runSources } from './sources.js';
import { selectHosts } from '../inventory/patterns.js';
import { readRecords, runsDir } from '../records/records.js';
import { fleetStatus, toFleetView, type FleetStatus } from '../records/status.js';
import { parseDuration } from '../util/duration.js';
import type { FlagValues } from './commands.js';
import { table, type Out } from './output.js';

function ago(iso: string | undefined, now: Date): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : s < 172800 ? `${Math.round(s / 3600)}h ago` : `${Math.round(s / 86400)}d ago`;
}

export function statusText(st: FleetStatus, now: Date): string {
  const rows = st.robots.map((r) => [
    r.host,
    r.state + (r.stale && r.lastSeen ? ' (stale)' : ''),
    ago(r.lastSeen, now),
    r.lastResult ? `${r.lastResult.command} ${r.lastResult.status}${r.lastResult.error ? ` (${r.lastResult.error.kind})` : ''} ${ago(r.lastResult.at, now)}` : '-',
    r.compliance ? `${r.compliance.compliant ? 'yes' : 'no'} as of ${ago(r.compliance.at, now)}` : '-',
    r.bootId ? `${r.bootId.slice(0, 8)}…` : '-',
  ]);
  const s = st.summary;
  return [
    table([['ROBOT', 'STATE', 'LAST SEEN', 'LAST RESULT', 'COMPLIANT', 'BOOT'], ...rows]),
    '',
    `status: ${s.total} robots  compliant=${s.compliant}  noncompliant=${s.noncompliant}  unknown=${s.unknown}  never-seen=${s.neverSeen}  stale=${s.stale}  (from ${st.history.length ? `${st.history.length} judged runs` : 'no judged run'} in the run records; no robot contacted)`,
  ].join('\n');
}

export async function statusCommand(values: FlagValues, io: Out): Promise<number> {
  const sources = runSources(values);
  if (values.limit !== undefined && !values.limit.trim()) throw new ConfigError("--limit '' selects nothing: give a pattern ('all' for every robot)");
  const staleMs = values.stale === undefined ? undefined : parseDuration(values.stale, '--stale');
  const inv = loadSources(sources.sources);
  const hosts = selectHosts(inv, 'all', values.limit);
  const now = new Date();
  const st = fleetStatus(readRecords(runsDir()), hosts, now, staleMs);
  if (values.html) writeFileSync(values.html, (await import('../report/status-html.js')).statusHtml(toFleetView(st), { inventory: sources.label, at: now }));
  io.out(values.json ? JSON.stringify({ inventory: sources.label, at: now.toISOString(), runsDir: runsDir(), ...st }, null, 2) : statusText(st, now));
  const s = st.summary;
  if (s.noncompliant) return EXIT.HOSTS_FAILED;
  return s.unknown || s.neverSeen || s.stale ? EXIT.HOSTS_UNREACHABLE : EXIT.OK;
}
