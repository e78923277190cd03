/**
 * The hooks beside the firewall managers that flush the nat table, as written on robots (pure). Each
 * manager gets the mechanism that runs after every one of its starts, restarts and reloads, whoever
 * triggers them:
 *
 * - netfilter-persistent: a plugin of its own (run by `netfilter-persistent start|reload`, from systemd
 *   or by hand, after 15-ip4tables has restored rules.v4 over the live nat table). fleetmasq's own file.
 * - nftables.service: a systemd drop-in whose ExecStartPost/ExecReload put the rule back after the
 *   conf's `flush ruleset` (start, restart, `systemctl reload`). fleetmasq's own file. A conf loaded by
 *   hand (`nft -f`) is not hooked: check names nftables when the rule is gone.
 * - ufw: a managed block in /etc/ufw/after.init, which ufw-init runs after loading its rules (start,
 *   reload, enable, at boot) and after flushing the built-in chains (stop with MANAGE_BUILTINS). The
 *   file is made executable; its mode before is kept in the block and given back by remove.
 * - firewalld: a permanent direct rule, added and removed through firewalld's own interface
 *   (`firewall-cmd --permanent --direct …` while it runs, `firewall-offline-cmd --direct …` when it is
 *   stopped), never by editing direct.xml (firewalld rewrites that file itself, comments and all): it
 *   flushes every iptables table at start and reload, then puts its direct rules back; with its nftables
 *   backend a direct rule on POSTROUTING is exactly fleetmasq's rule. Its rules are read from direct.xml
 *   by content (any attribute order, XML comments skipped): see src/remote/firewalld.ts.
 *
 * Which managers need a hook and whether it is in place is planning: src/modules/hooks.ts.
 * Files fleetmasq edits keep every other byte; removing the block gives the file back exactly (bytes
 * and mode), and a file fleetmasq created is deleted.
 */
import type { HookManager, RemoteFile } from '../../facts/managers.js';
import { FIREWALLD_DIRECT, NFP_HOOK, NFT_DROPIN, UFW_AFTER_INIT } from '../paths.js';
import { ensureRuleSh, nftBatch } from '../rule.js';

export const HOOK_PATH: Record<HookManager, string> = {
  'netfilter-persistent': NFP_HOOK,
  nftables: NFT_DROPIN,
  ufw: UFW_AFTER_INIT,
  firewalld: FIREWALLD_DIRECT,
};

/** Files whose every byte is fleetmasq's (created and deleted whole), and those it edits with a block. */
export const OWN_FILE: Record<HookManager, boolean> = { 'netfilter-persistent': true, nftables: true, ufw: false, firewalld: false };

/** A systemd drop-in: systemd must re-read its units when it changes. */
export const NEEDS_DAEMON_RELOAD: Record<HookManager, boolean> = { 'netfilter-persistent': false, nftables: true, ufw: false, firewalld: false };

export function renderNfpHook(iface: string): string {
  return `#!/bin/sh
# Managed by fleetmasq: netfilter-persistent restores rules.v4 over the live nat table; this plugin runs
# after it and puts the NAT masquerade rule on ${iface} back. \`fleetmasq remove\` deletes this file.
case "$1" in
start|restart|reload|force-reload) ${ensureRuleSh(iface)} || true ;;
esac
exit 0
`;
}

export function renderNftDropIn(iface: string): string {
  return `# Managed by fleetmasq: nftables.conf flushes the whole ruleset (the iptables nat table with it);
# this puts the NAT masquerade rule on ${iface} back after each start, restart and reload.
# \`fleetmasq remove\` deletes this file.
[Service]
ExecStartPost=-/bin/sh -c '${ensureRuleSh(iface, { systemd: true })}'
ExecReload=-/bin/sh -c '${ensureRuleSh(iface, { systemd: true })}'
`;
}

/** A managed block's comment syntax. */
interface Syntax {
  pre: string;
  post: string;
}
const SH: Syntax = { pre: '# ', post: '' };

const BEGIN_TEXT = 'BEGIN fleetmasq managed block: NAT masquerade for WebRTC (do not edit; `fleetmasq remove` takes it out)';
const END_TEXT = 'END fleetmasq managed block';

export interface BlockMeta {
  /** fleetmasq created the file: remove deletes it (when nothing else was added to it). */
  created: boolean;
  /** The file's mode before fleetmasq changed it. */
  mode: number;
}

const line = (s: Syntax, text: string) => `${s.pre}${text}${s.post}`;
const metaText = (m: BlockMeta) => `fleetmasq-meta: created=${+m.created} mode=${m.mode.toString(8).padStart(4, '0')}`;

function parseMetaText(t: string): BlockMeta | undefined {
  const m = /^fleetmasq-meta: created=([01]) mode=([0-7]{3,4})$/.exec(t);
  return m ? { created: m[1] === '1', mode: parseInt(m[2]!, 8) } : undefined;
}

interface FoundBlock {
  start: number;
  end: number;
  meta?: BlockMeta;
  body: string[];
}

/** A line as compared: a CRLF re-save's `\r` and surrounding blanks do not count. */
const norm = (l: string) => l.replace(/\r$/, '').trim();
const BEGIN_RE = /^#\s*BEGIN fleetmasq managed block\b/;
const END_RE = /^#\s*END fleetmasq managed block\b/;
/** The body of a block whose markers were lost (a rewrite): fleetmasq's own line, found by its shape. */
const BODY_RE = /^case "\$\{1-\}" in start\|stop\) .*-j MASQUERADE\b.*\|\| true ;; esac$/;

/**
 * The block in a file, `undefined` when there is none, or why its markers cannot be trusted. Found by
 * content: its markers whatever the spacing or line ends (CRLF), or, when a rewrite dropped them,
 * fleetmasq's body line alone.
 */
function findBlock(content: string, s: Syntax): FoundBlock | undefined | { damage: string } {
  const lines = content.split('\n').map(norm);
  const begins = lines.flatMap((l, i) => (BEGIN_RE.test(l) ? [i] : []));
  const ends = lines.flatMap((l, i) => (END_RE.test(l) ? [i] : []));
  if (!begins.length && !ends.length) {
    const bodies = lines.flatMap((l, i) => (BODY_RE.test(l) ? [i] : []));
    if (bodies.length > 1) return { damage: `holds ${bodies.length} copies of fleetmasq's hook line without their markers: edited by hand? Fix it by hand; fleetmasq will not edit it` };
    return bodies.length ? { start: bodies[0]!, end: bodies[0]!, body: [lines[bodies[0]!]!] } : undefined;
  }
  if (begins.length !== 1 || ends.length !== 1 || begins[0]! > ends[0]!)
    return { damage: `its fleetmasq markers are damaged (${begins.length} BEGIN, ${ends.length} END): edited by hand? Fix it by hand; fleetmasq will not edit it` };
  const [start, end] = [begins[0]!, ends[0]!];
  const metaLine = lines[start + 1] ?? '';
  const meta = metaLine.startsWith(s.pre.trim()) ? parseMetaText(metaLine.slice(s.pre.trim().length).trim()) : undefined;
  return { start, end, meta, body: lines.slice(start + (meta ? 2 : 1), end) };
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'ksh', 'mksh', 'zsh', 'busybox', 'yash', 'posh']);

/** Why a file is not one sh may run (its #! names another interpreter), or undefined. */
function notShell(content: string): string | undefined {
  const first = norm(content.split('\n')[0] ?? '');
  const m = /^#!\s*(\S+)(.*)$/.exec(first);
  if (!m) return undefined;
  let interp = m[1]!.slice(m[1]!.lastIndexOf('/') + 1);
  if (interp === 'env') interp = (m[2]!.trim().split(/\s+/).find((a) => a && !a.startsWith('-') && !a.includes('=')) ?? '').replace(/^.*\//, '');
  return SHELLS.has(interp) ? undefined : `its interpreter is ${JSON.stringify(first)}, not a shell: fleetmasq will not put shell into it (add the hook by hand, in that language)`;
}

function blockLines(s: Syntax, meta: BlockMeta, body: string[]): string[] {
  return [line(s, BEGIN_TEXT), line(s, metaText(meta)), ...body, line(s, END_TEXT)];
}

/** ufw's after.init: the block runs for `start` (rules loaded) and `stop` (built-ins maybe flushed). */
function ufwBody(iface: string): string[] {
  return [`case "\${1-}" in start|stop) ${ensureRuleSh(iface)} || true ;; esac`];
}

const SKELETON = {
  ufw: (block: string[]) => ['#!/bin/sh', ...block, ''].join('\n'),
};

/** firewalld's file is firewalld's: fleetmasq changes its rules through firewall-cmd, never the file. */
const FIREWALLD_NOT_A_FILE = { error: `${FIREWALLD_DIRECT} is firewalld's own file: fleetmasq changes firewalld's direct rules through firewall-cmd (firewalldDirectSh), never by editing it` };

/** Whether the file holds fleetmasq's block (whole, or its body line alone). */
export function hasHookBlock(content: string): boolean {
  return findBlock(content, SH) !== undefined;
}

/** The file a manager's hook should be, given the file as it is now; or why fleetmasq will not write it. */
export function desiredHook(manager: HookManager, iface: string, current?: RemoteFile): RemoteFile | { error: string } {
  const path = HOOK_PATH[manager];
  switch (manager) {
    case 'netfilter-persistent':
      return { content: renderNfpHook(iface), mode: 0o755 };
    case 'nftables':
      return { content: renderNftDropIn(iface), mode: 0o644 };
    case 'firewalld':
      return FIREWALLD_NOT_A_FILE;
    case 'ufw': {
      if (current?.link) return { error: `${path} is a symbolic link: fleetmasq will not replace it by a file (add the hook by hand, or point it at a file)` };
      if (current?.notUtf8) return { error: `${path} holds bytes that are not UTF-8, which an edit could not keep: fleetmasq will not edit it` };
      const body = ufwBody(iface);
      const execBit = 0o100;
      if (!current) {
        const mode = 0o750;
        return { content: SKELETON.ufw(blockLines(SH, { created: true, mode }, body)), mode };
      }
      const why = notShell(current.content);
      if (why) return { error: `${path} ${why}` };
      const found = findBlock(current.content, SH);
      if (found && 'damage' in found) return { error: `${path} ${found.damage}` };
      const lines = current.content.split('\n');
      if (found) {
        const meta = found.meta ?? { created: false, mode: current.mode };
        lines.splice(found.start, found.end - found.start + 1, ...blockLines(SH, meta, body));
        return { content: lines.join('\n'), mode: current.mode | execBit };
      }
      const meta = { created: false, mode: current.mode };
      const at = lines[0]?.startsWith('#!') ? 1 : 0;
      lines.splice(at, 0, ...blockLines(SH, meta, body));
      return { content: lines.join('\n'), mode: current.mode | execBit };
    }
  }
}

/**
 * The file without fleetmasq's hook: its bytes and mode as before apply, or `undefined` to delete it
 * (fleetmasq's own file, or one it created and nobody added to). `error` when its markers are damaged.
 */
export function withoutHook(manager: HookManager, current: RemoteFile): { file?: RemoteFile; present: boolean } | { error: string } {
  if (OWN_FILE[manager]) return { present: /Managed by fleetmasq/.test(current.content) };
  if ((current.link || current.notUtf8) && /fleetmasq managed block/.test(current.content))
    return { error: `${HOOK_PATH[manager]} is a ${current.link ? 'symbolic link' : 'file with bytes that are not UTF-8'}: fleetmasq will not edit it; take its block out by hand` };
  if (current.link || current.notUtf8) return { present: false, file: current };
  if (manager === 'firewalld') return FIREWALLD_NOT_A_FILE;
  const s = SH;
  const found = findBlock(current.content, s);
  if (!found) return { present: false, file: current };
  if ('damage' in found) return { error: `${HOOK_PATH[manager]} ${found.damage}` };
  const lines = current.content.split('\n');
  lines.splice(found.start, found.end - found.start + 1);
  const content = lines.join('\n');
  const meta = found.meta ?? { created: false, mode: current.mode };
  if (meta.created && content === SKELETON.ufw([])) return { present: true };
  // The mode fleetmasq set goes back to what it was; a mode changed by someone since stays theirs.
  const setByUs = (meta.mode | 0o100) === current.mode;
  return { present: true, file: { content, mode: setByUs ? meta.mode : current.mode } };
}

// ---- the nftables backend (see src/modules/nfthooks.ts): one drop-in for nftables.service ----

export function renderNftTableDropIn(spec: string): string {
  return `# Managed by fleetmasq: nftables.conf flushes the whole ruleset (fleetmasq's own table with it);
# this makes fleetmasq's table (NAT masquerade on ${spec}) again after each start, restart and reload.
# \`fleetmasq remove\` deletes this file.
[Service]
ExecStartPost=-nft '${nftBatch(spec)}'
ExecReload=-nft '${nftBatch(spec)}'
`;
}

/** The nftables backend's hook for a manager (only nftables has one). */
export function desiredNftHook(spec: string): RemoteFile {
  return { content: renderNftTableDropIn(spec), mode: 0o644 };
}

