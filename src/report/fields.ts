/**
 * The facts a robot's result carries, declared once: each with its name (its key under `details` in the
 * JSON document and the run record), its JSON type, and how each output shows it — the recap table's
 * column, the HTML report's column, a JUnit property, a Prometheus label or gauge. Every report takes its
 * robot fields from here, so a new fact declared here appears everywhere (and the JSON Schema test fails
 * until schemas/run-result.schema.json describes it).
 */
import type { HostDetails, HostResult } from '../runner/types.js';
import type { ManagerReport } from '../modules/compliance.js';

export type FieldType = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'null';

export interface RobotField {
  key: keyof HostDetails;
  /** JSON type(s) of details[key] (null allowed where said). */
  type: FieldType | FieldType[];
  /** What it means (the JSON Schema's description says the same). */
  about: string;
  /** The value for people: the same words in the table, the HTML and JUnit; undefined when unknown. */
  text?: (d: HostDetails) => string | undefined;
  /** The recap table's column. */
  table?: { header: string; width: number };
  /** The HTML report's column (`code`: shown as code). */
  html?: { header: string; code?: boolean };
  /** A property of the robot's JUnit testcase. */
  junit?: boolean;
  /** Prometheus: a label of fleetmasq_robot_info, or a gauge of its own. */
  prom?: { label: string } | { gauge: string; help: string; value: (d: HostDetails) => number | undefined };
}

const str = (v: unknown) => (v === undefined || v === null ? undefined : String(v));

/** PERSIST: the mechanism only when it is in place; `missing` when fleetmasq's is not installed. */
export function persistText(d: HostDetails): string | undefined {
  if (d.persistence === undefined) return undefined;
  return d.persistenceInstalled === false ? 'missing' : d.persistence;
}

/** A robot's firewall managers in one line: `nftables (running, flushes: …, hook ok) · docker (…)`. */
export function managersText(ms: ManagerReport[] | undefined): string {
  return (ms ?? [])
    .map((m) => {
      const bits = [
        ...(m.running !== undefined ? [m.running ? 'running' : m.enabled ? 'enabled, not running' : 'not running'] : []),
        ...(m.flushes ? [m.flushes] : []),
        ...m.notes,
        ...(m.hook ? [`fleetmasq hook ${m.hook}`] : []),
      ];
      return bits.length ? `${m.name} (${bits.join('; ')})` : m.name;
    })
    .join(' · ');
}

export const ROBOT_FIELDS: readonly RobotField[] = [
  { key: 'interface', type: 'string', about: 'the uplink the rule is expected on (a name, a list, or a wildcard)', text: (d) => d.interface, table: { header: 'IFACE', width: 8 }, html: { header: 'Interface' }, junit: true, prom: { label: 'interface' } },
  { key: 'matched', type: 'array', about: "the robot's interfaces a list or wildcard matched" },
  { key: 'backend', type: 'string', about: 'the iptables backend (nft or legacy)', text: (d) => d.backend, table: { header: 'BACKEND', width: 7 }, html: { header: 'Backend' }, junit: true },
  { key: 'persistence', type: 'string', about: 'how the rule comes back at boot: systemd, rc.local or external', text: persistText, table: { header: 'PERSIST', width: 8 }, html: { header: 'Persistence' }, junit: true, prom: { label: 'persistence' } },
  { key: 'persistenceInstalled', type: 'boolean', about: "fleetmasq's persistence is installed and enabled", junit: true },
  { key: 'managers', type: 'array', about: "the robot's other firewall managers and fleetmasq's hook beside each", text: (d) => (d.managers?.length ? managersText(d.managers) : undefined), html: { header: 'Firewall managers' }, junit: true },
  { key: 'bootId', type: 'string', about: "the robot's boot id when its facts were read", text: (d) => d.bootId, html: { header: 'Boot id', code: true }, junit: true },
  { key: 'previousBootId', type: 'string', about: 'reboot: the boot id before the reboot', text: (d) => d.previousBootId, junit: true },
  { key: 'systemd', type: 'boolean', about: 'the robot runs systemd' },
  { key: 'ruleCount', type: 'number', about: 'live copies of the rule', text: (d) => str(d.ruleCount), junit: true },
  {
    key: 'duplicates',
    type: 'number',
    about: 'copies of the rule beyond the first, per interface, summed',
    text: (d) => str(d.duplicates),
    junit: true,
    prom: { gauge: 'fleetmasq_robot_rule_duplicates', help: 'Copies of the masquerade rule beyond the first.', value: (d) => d.duplicates },
  },
  {
    key: 'firedThisBoot',
    type: 'boolean',
    about: 'the boot hook put the rule in place at the current boot',
    text: (d) => str(d.firedThisBoot),
    junit: true,
    prom: { gauge: 'fleetmasq_robot_fired_this_boot', help: 'The boot hook put the rule in place at the current boot (1) or not (0).', value: (d) => (d.firedThisBoot === undefined ? undefined : d.firedThisBoot ? 1 : 0) },
  },
  {
    key: 'checkedAt',
    type: 'string',
    about: "when the robot's facts were read (absent: it was never checked)",
    text: (d) => d.checkedAt,
    html: { header: 'Checked at' },
    junit: true,
    prom: { gauge: 'fleetmasq_robot_last_check_timestamp_seconds', help: "When the robot's facts were read (Unix time).", value: (d) => (d.checkedAt ? Math.floor(Date.parse(d.checkedAt) / 1000) : undefined) },
  },
  { key: 'checkMode', type: 'boolean', about: 'a dry run: nothing was changed' },
  { key: 'downMs', type: ['number', 'null'], about: 'reboot: ms until the robot went down (null: not seen going down)', text: (d) => str(d.downMs), junit: true },
  { key: 'upMs', type: ['number', 'null'], about: 'reboot: ms from down to back (null: not seen going down)', text: (d) => str(d.upMs), junit: true },
  { key: 'rebootMs', type: 'number', about: 'reboot: ms from the reboot command to the new boot answering', text: (d) => str(d.rebootMs), junit: true },
  { key: 'rebootSkipped', type: 'string', about: "a playbook's `when: needed` reboot that was not needed, and why", text: (d) => d.rebootSkipped, junit: true },
  { key: 'diagnosis', type: 'object', about: 'diagnose: the verdict, the attempts and (with --ab) the experiment' },
  { key: 'root', type: 'string', about: "whether the robot's root file system keeps changes across a boot: persistent, volatile, read-only or unknown", text: (d) => d.root, junit: true },
  { key: 'notStarted', type: 'boolean', about: 'skipped because the run stopped (or was interrupted) before this robot: never touched' },
];

/** A robot's state in one word: a robot found not compliant says so, not "failed"; a dry run's change would-change. */
export function statusWord(r: HostResult, checkMode: boolean): string {
  // A dry run's robot that would change is not compliant yet: the change is what it would get.
  if (checkMode && r.status === 'changed') return 'would-change';
  if (r.compliant === false && r.status !== 'unreachable') return r.status === 'skipped' ? 'skipped' : 'noncompliant';
  return r.status;
}

/** A field's words for a robot ('' when unknown). */
export function fieldText(f: RobotField, r: HostResult): string {
  return f.text?.(r.details) ?? '';
}

/** A robot's error and reasons in words: its error first (`kind: message`), then each reason. */
export function whyLines(r: HostResult): string[] {
  return [...(r.error ? [`${r.error.kind}: ${r.error.message}`] : []), ...r.reasons.map((x) => x.text)];
}
