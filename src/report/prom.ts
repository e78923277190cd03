/**
 * Prometheus metrics of a check or verify, in the text format node_exporter's textfile collector reads
 * (rendered by prom-client, the well-kept Prometheus client for Node: format and escaping are its job;
 * it is loaded only when --prom is given). Per robot, label `robot` only; the robot's inventory groups
 * (and interface, persistence) ride on one info series, so the label sets stay bounded by the fleet.
 * Written atomically: a temporary file in the same folder, then a rename, so the collector never reads
 * half a file.
 */
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import type { HostResult } from '../runner/types.js';
import type { RunInfo } from './summary.js';
import { fieldText, ROBOT_FIELDS } from './fields.js';

/** Direct groups of each robot (sorted, comma-joined, at most 200 characters). */
export type GroupsOf = (robot: string) => string[];

export async function promText(results: HostResult[], info: RunInfo, groupsOf: GroupsOf, now = new Date()): Promise<string> {
  const { Registry, Gauge } = await import('prom-client');
  const reg = new Registry();
  const g = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [reg] });
  const compliant = g('fleetmasq_robot_compliant', 'The robot was found compliant (1) or not (0) by this check; absent when it could not be judged.', ['robot']);
  const reachable = g('fleetmasq_robot_reachable', 'The robot answered this check (1) or not (0).', ['robot']);
  // The declared fields: each gauge of its own, and the labels of the info series.
  const gauges = ROBOT_FIELDS.flatMap((f) => (f.prom && 'gauge' in f.prom ? [{ value: f.prom.value, gauge: g(f.prom.gauge, f.prom.help, ['robot']) }] : []));
  const labels = ROBOT_FIELDS.flatMap((f) => (f.prom && 'label' in f.prom ? [{ f, label: f.prom.label }] : []));
  const robotInfo = g('fleetmasq_robot_info', `The robot's inventory groups, ${labels.map((l) => l.label).join(', ')} (always 1).`, ['robot', 'groups', ...labels.map((l) => l.label)]);
  const fleet = g('fleetmasq_check_robots', "Robots of this check by state, each robot in exactly one state (sum() is the check's robots).", ['state']);
  const runAt = g('fleetmasq_check_timestamp_seconds', 'When this check ran (Unix time).', ['command']);
  const runFor = g('fleetmasq_check_duration_seconds', 'How long this check took.', ['command']);
  for (const r of results) {
    const up = r.status !== 'unreachable' && r.details.checkedAt !== undefined;
    reachable.set({ robot: r.host }, up ? 1 : 0);
    if (r.compliant !== undefined) compliant.set({ robot: r.host }, r.compliant ? 1 : 0);
    for (const { value, gauge } of gauges) {
      const v = value(r.details);
      if (v !== undefined) gauge.set({ robot: r.host }, v);
    }
    robotInfo.set({ robot: r.host, groups: groupsOf(r.host).sort().join(',').slice(0, 200), ...Object.fromEntries(labels.map(({ f, label }) => [label, fieldText(f, r)])) }, 1);
  }
  // One state per robot, so sum() over the states is the check's robots (no `total` beside them):
  // compliant, noncompliant, or unknown (not judged: unreachable, failed before its facts, skipped).
  // Reachability is its own per-robot series (fleetmasq_robot_reachable), not a state.
  const judged = { compliant: 0, noncompliant: 0, unknown: 0 };
  for (const r of results) judged[r.compliant === true ? 'compliant' : r.compliant === false ? 'noncompliant' : 'unknown']++;
  for (const [state, n] of Object.entries(judged)) fleet.set({ state }, n);
  runAt.set({ command: info.command }, Math.floor(now.getTime() / 1000));
  runFor.set({ command: info.command }, Math.max(0, (now.getTime() - info.startedAt.getTime()) / 1000));
  return reg.metrics();
}

/** Writes the file the textfile collector reads: whole or not at all. */
export function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
