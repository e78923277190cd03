/** Pure reporting: the summary counts, the JSON document, exit codes. */
import { EXIT } from '../errors.js';
import type { HostResult } from '../runner/types.js';
import { statusWord } from './fields.js';
// A robot's managers in one line: declared with the robot fields (fields.ts), which the summary uses.
export { managersText } from './fields.js';

export interface Summary {
  total: number;
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
  skipped: number;
  /** Robots that failed because they were found not compliant (not counted in `failed`). */
  noncompliant: number;
  /** With compliance: robots proven compliant, proven not, and not known (unreachable, not checked). */
  compliant?: number;
  nonCompliant?: number;
  unknown?: number;
  /** Robots whose host key was refused (changed, revoked, or unknown under strict checking). */
  hostKeyRefused: number;
}

/** Commands whose every robot is asked about its compliance. */
const COMPLIANCE_COMMANDS = new Set(['check', 'verify', 'reboot']);

/**
 * The counts. Compliance is counted over every robot that was asked about (the fleet the command
 * selected): a robot not checked (unreachable, failed before its facts) is unknown, never compliant.
 */
export function summarize(results: Iterable<HostResult>, command?: string): Summary {
  const s: Summary = { total: 0, ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0, noncompliant: 0, hostKeyRefused: 0 };
  let withCompliance = command !== undefined && COMPLIANCE_COMMANDS.has(command);
  let compliant = 0;
  let non = 0;
  for (const r of results) {
    s.total++;
    if (r.status === 'failed' && r.compliant === false) s.noncompliant++;
    else s[r.status]++;
    if (r.error?.kind === 'hostkey') s.hostKeyRefused++;
    // A robot that would change (a dry run) is not compliant yet, by definition: that is no failure of
    // the run (its compliance is kept in the record as evidence, not counted here).
    if (r.compliant !== undefined && !(r.status === 'changed' && r.compliant === false)) {
      withCompliance = true;
      if (r.compliant) compliant++;
      else non++;
    }
  }
  if (withCompliance) {
    s.compliant = compliant;
    s.nonCompliant = non;
    s.unknown = s.total - compliant - non;
  }
  return s;
}

/** What a report says about the run it came from. */
export interface RunInfo {
  command: string;
  /** A dry run (--check): nothing was changed. */
  checkMode: boolean;
  inventory: string;
  limit?: string;
  playbook?: string;
  startedAt: Date;
  /** Why later robots were not started, when the run stopped early. */
  stopped?: string;
  record?: string;
  /** The retry file and the robots in it (failed, unreachable, never started). */
  retry?: { file: string; hosts: string[] };
}

/**
 * The exit code, most serious first: 130 interrupted; 6 a host key was refused (possible
 * impersonation); 2 a robot failed or is not compliant, or the rollout stopped before its last batch;
 * 4 robots unreachable and nothing else wrong; 0 all ok.
 */
export function exitCode(s: Summary, run: { interrupted: boolean; stopped?: boolean }): number {
  if (run.interrupted) return EXIT.INTERRUPTED;
  if (s.hostKeyRefused > 0) return EXIT.HOSTKEY;
  if (s.failed > 0 || s.noncompliant > 0 || (s.nonCompliant ?? 0) > 0 || run.stopped) return EXIT.HOSTS_FAILED;
  if (s.unreachable > 0) return EXIT.HOSTS_UNREACHABLE;
  return EXIT.OK;
}

/** The version of the --json document's shape (schemas/run-result.schema.json); raised on any incompatible change. */
export const SCHEMA_VERSION = 1;

/** One robot in the --json document: the result's own fields, and its facts under `details` (never mixed). */
export interface RobotDocument {
  status: HostResult['status'];
  /** The status as the recap words it: noncompliant, would-change… */
  state: string;
  compliant?: boolean;
  removed?: boolean;
  changes: string[];
  reasons: HostResult['reasons'];
  warnings: string[];
  diffs: string[];
  error: HostResult['error'];
  raw?: HostResult['raw'];
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
  details: HostResult['details'];
}

export interface RunDocument {
  schemaVersion: number;
  command: string;
  checkMode: boolean;
  inventory: string;
  limit?: string;
  playbook?: string;
  startedAt: string;
  finishedAt: string;
  summary: Summary;
  stopped?: string;
  record?: string;
  retryFile?: string;
  retry?: string[];
  hosts: Record<string, RobotDocument>;
}

export function runDocument(results: HostResult[], info: RunInfo): RunDocument {
  const hosts: RunDocument['hosts'] = {};
  for (const r of results) {
    hosts[r.host] = {
      status: r.status,
      state: statusWord(r, info.checkMode),
      ...(r.compliant !== undefined ? { compliant: r.compliant } : {}),
      ...(r.removed !== undefined ? { removed: r.removed } : {}),
      changes: r.changes,
      reasons: r.reasons,
      warnings: r.warnings,
      diffs: r.diffs,
      error: r.error,
      ...(r.raw ? { raw: r.raw } : {}),
      ...(r.startedAt ? { startedAt: r.startedAt } : {}),
      ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
      ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
      details: r.details,
    };
  }
  return {
    schemaVersion: SCHEMA_VERSION,
    command: info.command,
    checkMode: info.checkMode,
    inventory: info.inventory,
    ...(info.limit !== undefined ? { limit: info.limit } : {}),
    ...(info.playbook !== undefined ? { playbook: info.playbook } : {}),
    startedAt: info.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    summary: summarize(results, info.command),
    ...(info.stopped ? { stopped: info.stopped } : {}),
    ...(info.record ? { record: info.record } : {}),
    ...(info.retry ? { retryFile: info.retry.file, retry: info.retry.hosts } : {}),
    hosts,
  };
}

/** "1 robot", "2 robots". */
export function robotsText(n: number): string {
  return `${n} robot${n === 1 ? '' : 's'}`;
}

/** The line a dry run puts at the top of every output. */
export const DRY_RUN_BANNER = 'DRY RUN (--check): nothing was changed; "changed" means "would change"';

