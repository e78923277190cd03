/**
 * The fleet's last known state as Prometheus metrics (status --prom), from the store's fleet view alone:
 * no robot is contacted. Rendered by prom-client like the per-check metrics (src/report/prom.ts); the
 * names differ from those, so both files can sit in node_exporter's textfile folder side by side.
 *
 * Each series means one thing:
 * - fleetmasq_robot_state{robot,state}: one-hot, every state listed, exactly one is 1 per robot;
 * - fleetmasq_robot_stale{robot}: not seen within the stale limit (its state is then its last known one);
 * - fleetmasq_robot_last_seen_timestamp_seconds / _evidence_timestamp_seconds{robot}: absent when never;
 * - fleetmasq_fleet_robots{state}: each robot counted in exactly one state, no `total` (sum() is the total);
 * - fleetmasq_fleet_stale_robots: robots seen once but not within the stale limit (also under their state);
 * - fleetmasq_status_timestamp_seconds: when this view was rendered (the sweep's heartbeat).
 */
import type { FleetStatus, RobotState } from '../store/types.js';
import type { GroupsOf } from './prom.js';

/** Every state a robot can be in, in the order they are listed. */
export const ROBOT_STATES: readonly RobotState[] = ['compliant', 'noncompliant', 'removed', 'unknown', 'never-seen'];

const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export async function fleetPromText(st: FleetStatus, now: Date, groupsOf?: GroupsOf): Promise<string> {
  const { Registry, Gauge } = await import('prom-client');
  const reg = new Registry();
  const g = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [reg] });
  const state = g('fleetmasq_robot_state', "The robot's last known state (one-hot: exactly one state is 1 per robot).", ['robot', 'state']);
  const stale = g('fleetmasq_robot_stale', 'The robot was not seen within the stale limit (1) or was (0); never seen counts as stale.', ['robot']);
  const lastSeen = g('fleetmasq_robot_last_seen_timestamp_seconds', 'When the robot last answered any command (Unix time); absent if never.', ['robot']);
  const evidence = g('fleetmasq_robot_evidence_timestamp_seconds', "When the evidence behind the robot's state was read (Unix time); absent if never judged.", ['robot']);
  const groups = groupsOf ? g('fleetmasq_robot_groups_info', "The robot's inventory groups (always 1): join on robot.", ['robot', 'groups']) : undefined;
  const fleet = g('fleetmasq_fleet_robots', 'Robots of the fleet by last known state, each in exactly one state (sum() is the fleet).', ['state']);
  const fleetStale = g('fleetmasq_fleet_stale_robots', 'Robots seen once but not within the stale limit (each also counted under its state).');
  const at = g('fleetmasq_status_timestamp_seconds', 'When this fleet view was written (Unix time).');
  const counts = Object.fromEntries(ROBOT_STATES.map((s) => [s, 0])) as Record<RobotState, number>;
  let staleSeen = 0;
  for (const r of st.robots) {
    for (const s of ROBOT_STATES) state.set({ robot: r.host, state: s }, s === r.state ? 1 : 0);
    counts[r.state]++;
    stale.set({ robot: r.host }, r.stale ? 1 : 0);
    if (r.stale && r.state !== 'never-seen') staleSeen++;
    if (r.lastSeen) lastSeen.set({ robot: r.host }, seconds(r.lastSeen));
    if (r.evidence) evidence.set({ robot: r.host }, seconds(r.evidence.at));
    groups?.set({ robot: r.host, groups: [...groupsOf!(r.host)].sort().join(',').slice(0, 200) }, 1);
  }
  for (const s of ROBOT_STATES) fleet.set({ state: s }, counts[s]);
  fleetStale.set(staleSeen);
  at.set(Math.floor(now.getTime() / 1000));
  return reg.metrics();
}
