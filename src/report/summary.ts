/** Pure reporting: the summary counts, the JSON document, exit codes. */
import { EXIT } from '../errors.js';
import type { HostResult } from '../runner/types.js';

export interface Summary {
  total: number;
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
  skipped: number;
  compliant?: number;
  nonCompliant?: number;
}

export function summarize(results: Iterable<HostResult>): Summary {
  const s: Summary = { total: 0, ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0 };
  let withCompliance = false;
  let compliant = 0;
  let non = 0;
  for (const r of results) {
    s.total++;
    s[r.status]++;
    if (r.compliant !== undefined) {
      withCompliance = true;
      if (r.compliant) compliant++;
      else non++;
    }
  }
  if (withCompliance) {
    s.compliant = compliant;
    s.nonCompliant = non;
  }
  return s;
}

/** 0 all ok, 2 any robot failed (or non-compliant), 4 some unreachable and none failed, 130 interrupted. */
export function exitCode(s: Summary, interrupted: boolean): number {
  if (interrupted) return EXIT.INTERRUPTED;
  if (s.failed > 0) return EXIT.HOSTS_FAILED;
  if (s.unreachable > 0) return EXIT.HOSTS_UNREACHABLE;
  return EXIT.OK;
}

export interface RunDocument {
  command: string;
  startedAt: string;
  finishedAt: string;
  hosts: Record<string, Record<string, unknown>>;
  summary: Summary;
  aborted?: string;
  record?: string;
}

export function runDocument(command: string, results: HostResult[], startedAt: Date, extra: { aborted?: string; record?: string } = {}): RunDocument {
  const hosts: RunDocument['hosts'] = {};
  for (const r of results) {
    const { host, details, ...rest } = r;
    hosts[host] = { ...rest, ...details };
  }
  return {
    command,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    hosts,
    summary: summarize(results),
    ...(extra.aborted ? { aborted: extra.aborted } : {}),
    ...(extra.record ? { record: extra.record } : {}),
  };
}
