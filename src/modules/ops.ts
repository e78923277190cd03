/**
 * Typed operations: what a plan will do to a robot. Each operation's words and its diff are derived
 * from it here; its shell, from the same operation in src/remote/ops.ts (stepOf). A planner only decides
 * which operations a robot needs.
 */
import { RC_LOCAL, UNIT_NAME, UNIT_PATH } from '../remote/paths.js';
import { directArgs } from '../remote/firewalld.js';
import { HOOK_PATH } from '../remote/files/hooks.js';
import { findBlock, type RcFile } from '../remote/files/rclocal.js';
import { renderUnit } from '../remote/files/unit.js';
import { unifiedDiff } from '../util/diff.js';
import type { HookManager, RemoteFile } from '../facts/managers.js';
import { NFT_TABLE, nftIface, ruleArgs, type RuleBackend } from './rule.js';

export type Backend = 'nft' | 'legacy' | 'unknown';

export type Operation =
  /** Our unit written (when `before` differs) and/or enabled; its rule in iptables (default) or fleetmasq's nftables table. */
  | { kind: 'unit'; iface: string; before?: string; write: boolean; enable: boolean; ruleBackend?: RuleBackend }
  /** fleetmasq's nftables table made live whole (its rules before: -S lines). */
  | { kind: 'nft-table'; iface: string; before: string[] }
  /** fleetmasq's nftables table deleted. */
  | { kind: 'nft-table-remove'; before: string[] }
  | { kind: 'unit-remove'; before?: string; systemd: boolean; why: string }
  /** rc.local (or its symlink's target at `path`) with fleetmasq's block. */
  | { kind: 'rclocal'; path: string; before?: RcFile & { path?: string }; after: RcFile }
  /** rc.local without the block: restored, or deleted (`after` undefined) when fleetmasq created it. */
  | { kind: 'rclocal-restore'; path: string; before: RcFile; after?: RcFile; why: string }
  | { kind: 'rule'; iface: string; backend: Backend }
  | { kind: 'dedupe'; iface: string; extra: number; backend: Backend }
  | { kind: 'rule-move'; from: string; to: string; count: number; backend: Backend }
  | { kind: 'rule-delete'; iface: string; count: number; backend: Backend }
  | { kind: 'rule-delete-other'; iface: string; tool: 'iptables-nft' | 'iptables-legacy' }
  | { kind: 'marker-remove' }
  /** fleetmasq's hook beside a firewall manager (see src/remote/files/hooks.ts): written, and systemd told when it is a drop-in. */
  | { kind: 'hook'; manager: HookManager; before?: RemoteFile; after: RemoteFile; systemd: boolean }
  /** The hook taken out: the file given back as it was (`after`), or deleted. */
  | { kind: 'hook-remove'; manager: HookManager; before: RemoteFile; after?: RemoteFile; systemd: boolean }
  /** firewalld's permanent direct rules, through firewalld itself (see src/remote/firewalld.ts): fleetmasq's rule added for `add`, taken out for `remove`. */
  | { kind: 'firewalld-direct'; add: string[]; remove: { iface: string; priority: number }[] };

/** The operations that change the live rule (they run last: a robot cut off half-way keeps its boot hook). */
export const LIVE_RULE_OPS: ReadonlySet<Operation['kind']> = new Set(['rule', 'dedupe', 'rule-move', 'nft-table']);

/** A rule as read from fleetmasq's nftables table (an -S line), as nftables writes it. */
const nftLine = (r: string) => `oifname "${nftIface(/ -o (\S+) /.exec(r)?.[1] ?? '?')}" masquerade`;
const octal = (mode: number) => mode.toString(8).padStart(4, '0');
const ruleDiff = (backend: Backend, lines: string[]) => `iptables -t nat (${backend}):\n${lines.join('\n')}\n`;
const times = (n: number, line: string) => Array<string>(n).fill(line);

/** What an operation changes, in words (none for a pure housekeeping step). */
export function describe(op: Operation): string[] {
  switch (op.kind) {
    case 'unit':
      return [
        ...(op.write ? [`${op.before === undefined ? 'install' : 'update'} the systemd unit ${UNIT_NAME}`] : []),
        ...(op.enable ? [`enable ${UNIT_NAME} at boot`] : []),
      ];
    case 'unit-remove':
      return [`remove the systemd unit ${UNIT_NAME}${op.why}`];
    case 'nft-table':
      return [`make fleetmasq's nftables table live: table ${NFT_TABLE}, ${op.iface.split(',').map((p) => `oifname "${nftIface(p)}" masquerade`).join(', ')}`];
    case 'nft-table-remove':
      return [`delete fleetmasq's nftables table (table ${NFT_TABLE})`];
    case 'rclocal': {
      const b = op.before;
      if (!b) return [`create ${RC_LOCAL} (mode ${octal(op.after.mode)}) with fleetmasq's block`];
      const where = b.path ? `${RC_LOCAL} (-> ${b.path})` : RC_LOCAL;
      return [
        ...(b.content !== op.after.content ? [`${findBlock(b.content) ? 'update' : 'add'} fleetmasq's block in ${where}`] : []),
        ...(!b.content.startsWith('#!') ? [`add the missing shebang to ${where}`] : []),
        ...((b.mode & 0o100) === 0 ? [`make ${where} executable by its owner (mode ${octal(op.after.mode)})`] : []),
      ];
    }
    case 'rclocal-restore':
      return [op.after ? `remove fleetmasq's block from ${RC_LOCAL}${op.why}` : `delete ${RC_LOCAL} (fleetmasq created it)${op.why}`];
    case 'rule':
      return [`add live rule: iptables -t nat -A ${ruleArgs(op.iface)}`];
    case 'dedupe':
      return [`remove ${op.extra} duplicate(s) of the live rule on ${op.iface}`];
    case 'rule-move':
      return [`move the live rule from ${op.from} to ${op.to}: iptables -t nat -D ${ruleArgs(op.from)}`];
    case 'rule-delete':
      return [`delete ${op.count} live rule(s): iptables -t nat -D ${ruleArgs(op.iface)}`];
    case 'rule-delete-other':
      return [`delete the copy of the rule in the ${op.tool} tables`];
    case 'marker-remove':
      return [];
    case 'hook':
      return [`${op.before ? 'update' : 'install'} fleetmasq's hook beside ${op.manager}: ${HOOK_PATH[op.manager]}${op.before && op.before.mode !== op.after.mode ? ` (mode ${octal(op.after.mode)})` : ''}`];
    case 'firewalld-direct':
      return [
        ...op.add.map((i) => `install fleetmasq's hook beside firewalld: a permanent direct rule on ${i} (firewall-cmd)`),
        ...op.remove.map((r) => `remove fleetmasq's hook beside firewalld: the permanent direct rule on ${r.iface} (firewall-cmd)`),
      ];
    case 'hook-remove':
      return [op.after ? `remove fleetmasq's hook from ${HOOK_PATH[op.manager]} (${op.manager})` : `delete fleetmasq's hook beside ${op.manager}: ${HOOK_PATH[op.manager]}`];
  }
}

/** The operation as a diff (files: unified; rules: -S lines), if it shows as one. */
export function diffOf(op: Operation): string | undefined {
  switch (op.kind) {
    case 'unit':
      return op.write ? unifiedDiff(op.before ?? '', renderUnit(op.iface, op.ruleBackend), op.before === undefined ? '/dev/null' : UNIT_PATH, UNIT_PATH) : undefined;
    case 'nft-table':
      return `nft table ${NFT_TABLE}:\n${[...op.before.map((r) => `- ${nftLine(r)}`), ...op.iface.split(',').map((p) => `+ oifname "${nftIface(p)}" masquerade`)].join('\n')}\n`;
    case 'nft-table-remove':
      return `nft table ${NFT_TABLE}:\n${op.before.map((r) => `- ${nftLine(r)}`).join('\n')}\n`;
    case 'unit-remove':
      return op.before !== undefined ? unifiedDiff(op.before, '', UNIT_PATH, '/dev/null') : undefined;
    case 'rclocal':
      return unifiedDiff(op.before?.content ?? '', op.after.content, op.before ? RC_LOCAL : '/dev/null', RC_LOCAL);
    case 'rclocal-restore':
      return unifiedDiff(op.before.content, op.after?.content ?? '', RC_LOCAL, op.after ? RC_LOCAL : '/dev/null');
    case 'rule':
      return ruleDiff(op.backend, [`+ -A ${ruleArgs(op.iface)}`]);
    case 'dedupe':
      return ruleDiff(op.backend, times(op.extra, `- -A ${ruleArgs(op.iface)}`));
    case 'rule-move':
      return ruleDiff(op.backend, times(op.count, `- -A ${ruleArgs(op.from)}`));
    case 'rule-delete':
      return ruleDiff(op.backend, times(op.count, `- -A ${ruleArgs(op.iface)}`));
    case 'rule-delete-other':
    case 'marker-remove':
      return undefined;
    case 'hook': {
      const p = HOOK_PATH[op.manager];
      return unifiedDiff(op.before?.content ?? '', op.after.content, op.before ? p : '/dev/null', p);
    }
    case 'firewalld-direct':
      return `firewalld permanent direct rules:\n${[...op.add.map((i) => `+ ipv4 nat POSTROUTING 0 ${directArgs(i)}`), ...op.remove.map((r) => `- ipv4 nat POSTROUTING ${r.priority} ${directArgs(r.iface)}`)].join('\n')}\n`;
    case 'hook-remove': {
      const p = HOOK_PATH[op.manager];
      return unifiedDiff(op.before.content, op.after?.content ?? '', p, op.after ? p : '/dev/null');
    }
  }
}

