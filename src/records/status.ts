/**
 * The fleet's state from the run records alone (pure): per robot, when it last answered, its last
 * result, its compliance as of when, its boot id; robots never seen; robots not seen for too long; and
 * the fleet's compliance run by run.
 */
import type { HostErrorKind } from '../errors.js';
import type { HostStatus } from '../runner/types.js';
import type { RecordLine } from './records.js';

export type RobotState = 'compliant' | 'noncompliant' | 'unknown' | 'never-seen';

export interface RobotStatus {
  host: string;
  state: RobotState;
  /** When its facts were last read (it answered). */
  lastSeen?: string;
  lastResult?: { command: string; status: HostStatus; at: string; error?: { kind: HostErrorKind; message: string } };
  /** Its compliance the last time it was judged, and when. */
  compliance?: { compliant: boolean; at: string; command: string };
  bootId?: string;
  /** Not seen for longer than the stale limit (or never). */
  stale: boolean;
}

export interface HistoryPoint {
  at: string;
  command: string;
  total: number;
  compliant: number;
}

export interface FleetStatus {
  robots: RobotStatus[];
  summary: { total: number; compliant: number; noncompliant: number; unknown: number; neverSeen: number; stale: number };
  /** Compliance of each run that judged it, oldest first. */
  history: HistoryPoint[];
}

const later = (a: string | undefined, b: string | undefined) => (a === undefined || (b !== undefined && b > a) ? b : a);

export function fleetStatus(runs: { file: string; lines: RecordLine[] }[], hosts: string[], now: Date, staleMs?: number): FleetStatus {
  const wanted = new Set(hosts);
  const by = new Map<string, RobotStatus>(hosts.map((h) => [h, { host: h, state: 'never-seen', stale: true }]));
  const history: HistoryPoint[] = [];
  for (const run of runs) {
    let judged = 0;
    let compliant = 0;
    let at: string | undefined;
    let command = '';
    for (const r of run.lines) {
      if (!wanted.has(r.host)) continue;
      const s = by.get(r.host)!;
      const when = r.finishedAt ?? r.details?.checkedAt;
      if (r.details?.checkedAt) s.lastSeen = later(s.lastSeen, r.details.checkedAt);
      if (r.details?.bootId && r.details.checkedAt && r.details.checkedAt === s.lastSeen) s.bootId = r.details.bootId;
      if (when && (!s.lastResult || when >= s.lastResult.at)) s.lastResult = { command: r.command, status: r.status, at: when, ...(r.error ? { error: r.error } : {}) };
      if (r.compliant !== undefined && when && (!s.compliance || when >= s.compliance.at)) s.compliance = { compliant: r.compliant, at: when, command: r.command };
      if (r.compliant !== undefined) {
        judged++;
        if (r.compliant) compliant++;
      }
      at = later(at, when);
      command = r.command;
    }
    if (judged && at) history.push({ at, command, total: judged, compliant });
  }
  const robots = [...by.values()].map((s) => {
    const state: RobotState = !s.lastSeen ? 'never-seen' : !s.compliance ? 'unknown' : s.compliance.compliant ? 'compliant' : 'noncompliant';
    const stale = !s.lastSeen || (staleMs !== undefined && now.getTime() - Date.parse(s.lastSeen) > staleMs);
    return { ...s, state, stale };
  });
  const count = (st: RobotState) => robots.filter((r) => r.state === st).length;
  return {
    robots,
    summary: {
      total: robots.length,
      compliant: count('compliant'),
      noncompliant: count('noncompliant'),
      unknown: count('unknown'),
      neverSeen: count('never-seen'),
      stale: robots.filter((r) => r.stale && r.lastSeen).length,
    },
    history: history.sort((a, b) => (a.at < b.at ? -1 : 1)),
  };
}

/**
 * The same view in the store's types (src/store/types.ts), for the pages that already take those
 * (status --html). Transitional: goes with this file when the store replaces the run records. The
 * records know no run ids or controllers; a run's `asked` here is the robots it judged.
 */
export function toFleetView(st: FleetStatus): import('../store/types.js').FleetStatus {
  return {
    robots: st.robots.map(({ compliance, lastResult, ...r }) => ({
      ...r,
      ...(lastResult ? { lastResult: { ...lastResult, runId: '', controller: '' } } : {}),
      ...(compliance ? { evidence: { state: compliance.compliant ? ('compliant' as const) : ('noncompliant' as const), at: compliance.at, command: compliance.command, runId: '', controller: '' } } : {}),
    })),
    summary: { ...st.summary, removed: 0 },
    history: st.history.map((p) => ({ runId: '', at: p.at, command: p.command, controller: '', asked: p.total, compliant: p.compliant, judged: p.total, dryRun: false })),
  };
}
