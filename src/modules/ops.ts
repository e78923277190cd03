/**
 * Typed operations: what a plan will do to a robot. Each operation's words, its diff and its shell are
 * derived from it here, in one place: a planner only decides which operations a robot needs.
 */
import { RC_LOCAL, UNIT_NAME, UNIT_PATH, MARKER, MARKER_DIR, WANTS_LINK } from '../remote/paths.js';
import { b64, shQuote, type Step } from '../remote/script.js';
import { unifiedDiff } from '../util/diff.js';
import type { HookManager, RemoteFile } from '../facts/managers.js';
import { directArgs, firewalldDirectSh, HOOK_PATH, NEEDS_DAEMON_RELOAD } from './hooks.js';
import { findBlock, type RcFile } from './rclocal.js';
import { ensureNftSh, ensureRuleSh, NFT_TABLE, nftIface, ruleArgs, type RuleBackend } from './rule.js';
import { renderUnit } from './unit.js';

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
  /** fleetmasq's hook beside a firewall manager (see hooks.ts): written, and systemd told when it is a drop-in. */
  | { kind: 'hook'; manager: HookManager; before?: RemoteFile; after: RemoteFile; systemd: boolean }
  /** The hook taken out: the file given back as it was (`after`), or deleted. */
  | { kind: 'hook-remove'; manager: HookManager; before: RemoteFile; after?: RemoteFile; systemd: boolean }
  /** firewalld's permanent direct rules, through firewalld itself (see hooks.ts): fleetmasq's rule added for `add`, taken out for `remove`. */
  | { kind: 'firewalld-direct'; add: string[]; remove: { iface: string; priority: number }[] };

/** The operations that change the live rule (they run last: a robot cut off half-way keeps its boot hook). */
export const LIVE_RULE_OPS: ReadonlySet<Operation['kind']> = new Set(['rule', 'dedupe', 'rule-move', 'nft-table']);

/** The shell that writes a file on a robot: atomic (temp file, rename) and durable (synced before and after). */
export function writeFile(path: string, content: string, mode: number): string {
  return `fm_write ${shQuote(path)} ${mode.toString(8).padStart(4, '0')} ${shQuote(b64(content))}`;
}

export function deleteRuleSh(iface: string, tool = 'iptables'): string {
  const rule = ruleArgs(iface);
  return `while ${tool} -w -t nat -C ${rule} 2>/dev/null; do ${tool} -w -t nat -D ${rule}; done`;
}

/** Reloads systemd only if its view of our unit differs from the file on disk. */
export const RELOAD_IF_STALE = `case "$(systemctl show -p LoadState -p NeedDaemonReload ${UNIT_NAME} 2>/dev/null | sort | tr '\\n' ' ')" in
  'LoadState=loaded NeedDaemonReload=no ') ;;
  *) systemctl daemon-reload ;;
esac`;

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

/** The operation as one step of the change script. */
export function stepOf(op: Operation): Step {
  const name =
    op.kind === 'marker-remove' ? 'marker' : op.kind === 'hook' || op.kind === 'hook-remove' ? `${op.kind}-${op.manager}` : op.kind === 'firewalld-direct' ? (op.add.length ? 'hook-firewalld' : 'hook-remove-firewalld') : op.kind;
  return { name, sh: shellOf(op) };
}

function shellOf(op: Operation): string {
  switch (op.kind) {
    case 'unit':
      return [
        ...(op.write ? [writeFile(UNIT_PATH, renderUnit(op.iface, op.ruleBackend), 0o644)] : []),
        // Enabling is the [Install] symlink; the next boot is what it is for: no reload here.
        // The enable symlink is made durable like every write (a power cut must not keep the unit and lose its enable).
        ...(op.enable ? [`systemctl enable --quiet --no-reload ${UNIT_NAME}`, `fm_sync ${WANTS_LINK.slice(0, WANTS_LINK.lastIndexOf('/'))}`] : []),
        // A manager reload costs ~0.1 s of CPU in the robot's PID 1, so only when systemd's view of the
        // unit is not what is on disk (an old definition, or a unit still active whose file had been
        // deleted); a new unit is simply loaded from disk on demand.
        ...(op.write ? [RELOAD_IF_STALE] : []),
      ].join('\n');
    case 'unit-remove':
      return op.systemd
        ? // Stopped first (it has no ExecStop: the rule stays until deleted below), so systemd does not
          // keep a phantom active unit without a file after the reload.
          `systemctl stop --quiet ${UNIT_NAME} 2>/dev/null || true\nsystemctl disable --quiet --no-reload ${UNIT_NAME} 2>/dev/null || true\nrm -f ${UNIT_PATH}\nfm_sync ${WANTS_LINK.slice(0, WANTS_LINK.lastIndexOf('/'))}\nfm_sync /etc/systemd/system\nsystemctl daemon-reload`
        : `rm -f ${UNIT_PATH} /etc/systemd/system/*.wants/${UNIT_NAME}\nfm_sync /etc/systemd/system`;
    case 'rclocal':
      return writeFile(op.path, op.after.content, op.after.mode);
    case 'rclocal-restore':
      return op.after ? writeFile(op.path, op.after.content, op.after.mode) : `rm -f ${RC_LOCAL}\nfm_sync /etc`;
    case 'rule':
      return ensureRuleSh(op.iface);
    case 'nft-table':
      return ensureNftSh(op.iface);
    case 'nft-table-remove':
      return `if nft list table ${NFT_TABLE} >/dev/null 2>&1; then nft delete table ${NFT_TABLE}; fi`;
    case 'dedupe': {
      const rule = ruleArgs(op.iface);
      return `n=$(iptables -w -t nat -S POSTROUTING | grep -cxF -- ${shQuote(`-A ${rule}`)} || true)\nwhile [ "$n" -gt 1 ]; do iptables -w -t nat -D ${rule}; n=$((n-1)); done`;
    }
    case 'rule-move':
      return deleteRuleSh(op.from);
    case 'rule-delete':
      return deleteRuleSh(op.iface);
    case 'rule-delete-other':
      return deleteRuleSh(op.iface, op.tool);
    case 'marker-remove':
      return `rm -f ${MARKER}; rmdir ${MARKER_DIR} 2>/dev/null || true`;
    case 'hook': {
      const p = HOOK_PATH[op.manager];
      const dir = p.slice(0, p.lastIndexOf('/'));
      return [
        `mkdir -p ${shQuote(dir)}`,
        writeFile(p, op.after.content, op.after.mode),
        ...(NEEDS_DAEMON_RELOAD[op.manager] && op.systemd ? ['systemctl daemon-reload'] : []),
      ].join('\n');
    }
    case 'firewalld-direct':
      return firewalldDirectSh(op.add, op.remove);
    case 'hook-remove': {
      const p = HOOK_PATH[op.manager];
      const dir = p.slice(0, p.lastIndexOf('/'));
      return [
        op.after ? writeFile(p, op.after.content, op.after.mode) : `rm -f ${shQuote(p)}\nfm_sync ${shQuote(dir)}`,
        // A drop-in directory fleetmasq made goes with its last file.
        ...(NEEDS_DAEMON_RELOAD[op.manager] ? [`rmdir ${shQuote(dir)} 2>/dev/null || true`] : []),
        ...(NEEDS_DAEMON_RELOAD[op.manager] && op.systemd ? ['systemctl daemon-reload'] : []),
      ].join('\n');
    }
  }
}
