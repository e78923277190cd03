/** status: the fleet from the store alone; no robot is contacted. */
import { writeFileSync } from 'node:fs';
import { ConfigError, EXIT } from '../errors.js';
import { loadSources } from '../inventory/sources.js';
import { runSources } from './sources.js';
import { selectHosts } from '../inventory/patterns.js';
import { Store } from '../store/store.js';
import type { FleetStatus, HostHistoryEntry, RobotStatus } from '../store/types.js';
import type { HostResult } from '../runner/types.js';
import { parseDuration } from '../util/duration.js';
import type { FlagValues } from './commands.js';
import { table, type Out } from './output.js';
import { retention } from './record.js';
import { checkWritable } from './args.js';

export function ago(iso: string | undefined, now: Date): string {
  if (!iso) return 'never';
  const d = Math.round((now.getTime() - Date.parse(iso)) / 1000);
  if (d < 0) return `${-d}s in the future`;
  return d < 120 ? `${d}s ago` : d < 7200 ? `${Math.round(d / 60)}m ago` : d < 172800 ? `${Math.round(d / 3600)}h ago` : `${Math.round(d / 86400)}d ago`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function stateText(r: RobotStatus): string {
  return r.state + (r.stale && r.lastSeen ? ' (stale)' : '') + (r.futureDated ? ' (future-dated record ignored)' : '');
}

export function statusText(st: FleetStatus, now: Date, where: string): string {
  const rows = st.robots.map((r) => [
    r.host,
    stateText(r),
    r.evidence ? `${r.evidence.command} ${ago(r.evidence.at, now)}` : '-',
    ago(r.lastSeen, now),
    r.lastResult ? `${r.lastResult.command} ${r.lastResult.status}${r.lastResult.error ? ` (${r.lastResult.error.kind})` : ''} ${ago(r.lastResult.at, now)}` : '-',
    r.bootId ? `${r.bootId.slice(0, 8)}…` : '-',
  ]);
  const s = st.summary;
  return [
    table([['ROBOT', 'STATE', 'AS OF', 'LAST SEEN', 'LAST RESULT', 'BOOT'], ...rows]),
    '',
    `status: ${plural(s.total, 'robot')}  compliant=${s.compliant}  noncompliant=${s.noncompliant}  removed=${s.removed}  unknown=${s.unknown}  never-seen=${s.neverSeen}  stale=${s.stale}`,
    `(newest evidence of every command, from ${where}; no robot contacted)`,
  ].join('\n');
}

export function historyText(host: string, h: HostHistoryEntry[], now: Date): string {
  if (!h.length) return `${host}: nothing recorded`;
  return table([
    ['WHEN', 'COMMAND', 'RESULT', 'STATE', 'BY', 'RUN', 'BOOT', 'REASONS'],
    ...h.map((e) => [
      `${e.at} (${ago(e.at, now)})`,
      e.command,
      e.status + (e.error ? ` (${e.error.kind})` : ''),
      e.state ?? '-',
      e.controller,
      e.runId,
      e.bootId ? `${e.bootId.slice(0, 8)}…` : '-',
      [...(e.error ? [e.error.message] : []), ...e.reasons].join('; ').slice(0, 200) || '-',
    ]),
  ]);
}

export async function statusCommand(values: FlagValues, io: Out): Promise<number> {
  if (values.run !== undefined && values.host === undefined) throw new ConfigError('--run goes with --host ROBOT');
  if (values.limit !== undefined && !values.limit.trim()) throw new ConfigError("--limit '' selects nothing: give a pattern ('all' for every robot)");
  const staleMs = values.stale === undefined ? undefined : parseDuration(values.stale, '--stale');
  const keep = values.keep === undefined ? undefined : retention(values.keep);
  const now = new Date();
  // --host ROBOT reads the store alone: the robot may have left the inventory since.
  const sources = values.host === undefined ? runSources(values) : undefined;
  const inventory = sources ? loadSources(sources.sources, sources) : undefined;
  const hosts = inventory ? selectHosts(inventory, 'all', values.limit) : [];
  // Said before the store is read, as fleet commands do: a sweep whose metrics cannot land fails loudly.
  for (const [flag, file] of [['html', values.html], ['prom', values.prom]] as const) if (file !== undefined) checkWritable(flag, file);

  const store = await Store.open();
  try {
    if (keep) {
      const n = await store.prune(keep, now);
      io.err(`store: ${plural(n, 'run')} older than the retention dropped`);
    }
    if (values.host !== undefined) return await hostView(store, values, io, now);
    if (values.jsonl) {
      const wanted = new Set(hosts);
      for await (const line of store.exportJsonl(wanted)) io.out(line);
      return EXIT.OK;
    }
    const st = await store.fleet(hosts, now, staleMs);
    if (values.html) writeFileSync(values.html, (await import('../report/status-html.js')).statusHtml(st, { inventory: sources!.label, at: now }));
    if (values.prom) {
      const [{ fleetPromText }, { writeAtomically }] = await Promise.all([import('../report/fleet-prom.js'), import('../report/prom.js')]);
      const inv = inventory!;
      writeAtomically(values.prom, await fleetPromText(st, now, (h) => [...(inv.hosts.get(h)?.groups ?? [])]));
    }
    io.out(
      values.json
        ? JSON.stringify({ inventory: sources!.label, at: now.toISOString(), store: store.location, ...st }, null, 2)
        : statusText(st, now, store.location),
    );
    const s = st.summary;
    if (s.noncompliant || s.removed) return EXIT.HOSTS_FAILED;
    return s.unknown || s.neverSeen || s.stale ? EXIT.HOSTS_UNREACHABLE : EXIT.OK;
  } finally {
    await store.close();
  }
}

async function hostView(store: Store, values: FlagValues, io: Out, now: Date): Promise<number> {
  const host = values.host!;
  if (values.run !== undefined) {
    const results = await store.results(host, values.run);
    if (!results.length) throw new ConfigError(`no result of ${host} in run ${values.run} (see 'fleetmasq status --host ${host}')`);
    io.out(values.json ? JSON.stringify({ host, run: values.run, results }, null, 2) : results.map((r) => storedResultText(r)).join('\n\n'));
    return EXIT.OK;
  }
  const history = await store.hostHistory(host);
  io.out(values.json ? JSON.stringify({ host, store: store.location, history }, null, 2) : historyText(host, history, now));
  return EXIT.OK;
}

/** One stored result for people: what it was, why, and what the robot said (raw output, when kept). */
function storedResultText(r: HostResult): string {
  const lines = [`${r.host}: ${r.status}${r.compliant === undefined ? '' : r.compliant ? ' (compliant)' : ' (not compliant)'} at ${r.finishedAt ?? '?'}`];
  if (r.error) lines.push(`error (${r.error.kind}): ${r.error.message}`);
  for (const x of r.reasons ?? []) lines.push(`reason: ${typeof x === 'string' ? x : x.text} (${typeof x === 'string' ? 'recorded' : x.code})`);
  for (const x of r.changes ?? []) lines.push(`change: ${x}`);
  for (const x of r.warnings ?? []) lines.push(`warning: ${x}`);
  const raw = (r as HostResult & { raw?: Record<string, unknown> }).raw;
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v === 'string' && v) lines.push(`--- ${k} ---`, v.replace(/\n$/, ''));
      else if (v !== undefined && v !== null && typeof v !== 'string') lines.push(`${k}: ${JSON.stringify(v)}`);
    }
  }
  return lines.join('\n');
}
