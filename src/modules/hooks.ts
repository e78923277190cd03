/**
 * Hooks beside the firewall managers that flush the nat table (pure). Each manager gets the mechanism
 * that runs after every one of its starts, restarts and reloads, whoever triggers them:
 *
 * - netfilter-persistent: a plugin of its own (run by `netfilter-persistent start|reload`, from systemd
 *   or by hand, after 15-ip4tables has restored rules.v4 over the live nat table). fleetmasq's own file.
 * - nftables.service: a systemd drop-in whose ExecStartPost/ExecReload put the rule back after the
 *   conf's `flush ruleset` (start, restart, `systemctl reload`). fleetmasq's own file. A conf loaded by
 *   hand (`nft -f`) is not hooked: check names nftables when the rule is gone.
 * - ufw: a managed block in /etc/ufw/after.init, which ufw-init runs after loading its rules (start,
 *   reload, enable, at boot) and after flushing the built-in chains (stop with MANAGE_BUILTINS). The
 *   file is made executable; its mode before is kept in the block and given back by remove.
 * - firewalld: a managed block in its permanent direct rules (/etc/firewalld/direct.xml): firewalld
 *   flushes every iptables table at start and reload, then puts its direct rules back; with its
 *   nftables backend a direct rule on POSTROUTING is exactly fleetmasq's rule.
 *
 * Files fleetmasq edits keep every other byte; removing the block gives the file back exactly (bytes
 * and mode), and a file fleetmasq created is deleted.
 */
import type { HookManager, ManagerFacts, RemoteFile } from '../facts/managers.js';
import { HOOK_MANAGERS } from '../facts/managers.js';
import { FIREWALLD_DIRECT, NFP_HOOK, NFT_DROPIN, UFW_AFTER_INIT } from '../remote/paths.js';
import { ensureRuleSh, ifaceList, ruleArgs } from './rule.js';

export const HOOK_PATH: Record<HookManager, string> = {
  'netfilter-persistent': NFP_HOOK,
  nftables: NFT_DROPIN,
  ufw: UFW_AFTER_INIT,
  firewalld: FIREWALLD_DIRECT,
};

/** Files whose every byte is fleetmasq's (created and deleted whole), and those it edits with a block. */
const OWN_FILE: Record<HookManager, boolean> = { 'netfilter-persistent': true, nftables: true, ufw: false, firewalld: false };

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
const XML: Syntax = { pre: '  <!-- ', post: ' -->' };

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

/** The block in a file, `undefined` when there is none, or why its markers cannot be trusted. */
function findBlock(content: string, s: Syntax): FoundBlock | undefined | { damage: string } {
  const lines = content.split('\n');
  const begins = lines.flatMap((l, i) => (l === line(s, BEGIN_TEXT) ? [i] : []));
  const ends = lines.flatMap((l, i) => (l === line(s, END_TEXT) ? [i] : []));
  if (!begins.length && !ends.length) return undefined;
  if (begins.length !== 1 || ends.length !== 1 || begins[0]! > ends[0]!)
    return { damage: `its fleetmasq markers are damaged (${begins.length} BEGIN, ${ends.length} END): edited by hand? Fix it by hand; fleetmasq will not edit it` };
  const [start, end] = [begins[0]!, ends[0]!];
  const metaLine = lines[start + 1] ?? '';
  const meta = metaLine.startsWith(s.pre) && metaLine.endsWith(s.post) ? parseMetaText(metaLine.slice(s.pre.length, metaLine.length - s.post.length)) : undefined;
  return { start, end, meta, body: lines.slice(start + (meta ? 2 : 1), end) };
}

function blockLines(s: Syntax, meta: BlockMeta, body: string[]): string[] {
  return [line(s, BEGIN_TEXT), line(s, metaText(meta)), ...body, line(s, END_TEXT)];
}

/** ufw's after.init: the block runs for `start` (rules loaded) and `stop` (built-ins maybe flushed). */
function ufwBody(iface: string): string[] {
  return [`case "\${1-}" in start|stop) ${ensureRuleSh(iface)} || true ;; esac`];
}

function firewalldBody(spec: string): string[] {
  return ifaceList(spec).map((i) => `  <rule ipv="ipv4" table="nat" chain="POSTROUTING" priority="0">${ruleArgs(i).replace(/^POSTROUTING /, '')}</rule>`);
}

const SKELETON = {
  ufw: (block: string[]) => ['#!/bin/sh', ...block, ''].join('\n'),
  firewalld: (block: string[]) => ['<?xml version="1.0" encoding="utf-8"?>', '<direct>', ...block, '</direct>', ''].join('\n'),
};

export type HookState = { ok: true } | { ok: false; why: 'missing' | 'stale' | 'damaged'; detail?: string };

/** The file a manager's hook should be, given the file as it is now; or why fleetmasq will not write it. */
export function desiredHook(manager: HookManager, iface: string, current?: RemoteFile): RemoteFile | { error: string } {
  const path = HOOK_PATH[manager];
  switch (manager) {
    case 'netfilter-persistent':
      return { content: renderNfpHook(iface), mode: 0o755 };
    case 'nftables':
      return { content: renderNftDropIn(iface), mode: 0o644 };
    case 'ufw':
    case 'firewalld': {
      if (current?.link) return { error: `${path} is a symbolic link: fleetmasq will not replace it by a file (add the hook by hand, or point it at a file)` };
      if (current?.notUtf8) return { error: `${path} holds bytes that are not UTF-8, which an edit could not keep: fleetmasq will not edit it` };
      const s = manager === 'ufw' ? SH : XML;
      const body = manager === 'ufw' ? ufwBody(iface) : firewalldBody(iface);
      const execBit = manager === 'ufw' ? 0o100 : 0;
      if (!current) {
        const mode = manager === 'ufw' ? 0o750 : 0o644;
        return { content: SKELETON[manager](blockLines(s, { created: true, mode }, body)), mode };
      }
      const found = findBlock(current.content, s);
      if (found && 'damage' in found) return { error: `${path} ${found.damage}` };
      const lines = current.content.split('\n');
      if (found) {
        const meta = found.meta ?? { created: false, mode: current.mode };
        lines.splice(found.start, found.end - found.start + 1, ...blockLines(s, meta, body));
        return { content: lines.join('\n'), mode: current.mode | execBit };
      }
      const meta = { created: false, mode: current.mode };
      let at: number;
      if (manager === 'ufw') at = lines[0]?.startsWith('#!') ? 1 : 0;
      else {
        at = lines.map((l) => l.trim()).lastIndexOf('</direct>');
        if (at < 0)
          return {
            error: `${path} has no '</direct>' line, so fleetmasq cannot add its rule there: add it with ${ifaceList(iface)
              .map((i) => `firewall-cmd --permanent --direct --add-rule ipv4 nat POSTROUTING 0 ${ruleArgs(i).replace(/^POSTROUTING /, '')}`)
              .join(' and ')}`,
          };
      }
      lines.splice(at, 0, ...blockLines(s, meta, body));
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
  const s = manager === 'ufw' ? SH : XML;
  const found = findBlock(current.content, s);
  if (!found) return { present: false, file: current };
  if ('damage' in found) return { error: `${HOOK_PATH[manager]} ${found.damage}` };
  const lines = current.content.split('\n');
  lines.splice(found.start, found.end - found.start + 1);
  const content = lines.join('\n');
  const meta = found.meta ?? { created: false, mode: current.mode };
  if (meta.created && content === SKELETON[manager as 'ufw' | 'firewalld']([])) return { present: true };
  // The mode fleetmasq set goes back to what it was; a mode changed by someone since stays theirs.
  const setByUs = (meta.mode | (manager === 'ufw' ? 0o100 : 0)) === current.mode;
  return { present: true, file: { content, mode: setByUs ? meta.mode : current.mode } };
}

/** Whether a manager's hook is in place for the interface. */
export function hookState(manager: HookManager, iface: string, current?: RemoteFile): HookState {
  if (!current) return { ok: false, why: 'missing' };
  const want = desiredHook(manager, iface, current);
  if ('error' in want) return { ok: false, why: 'damaged', detail: want.error };
  if (OWN_FILE[manager]) return want.content === current.content && want.mode === current.mode ? { ok: true } : { ok: false, why: 'stale' };
  const s = manager === 'ufw' ? SH : XML;
  if (!findBlock(current.content, s)) return { ok: false, why: 'missing' };
  return want.content === current.content && want.mode === current.mode ? { ok: true } : { ok: false, why: 'stale' };
}

/** The managers present on the robot that flush the nat table, with their hook files as they are. */
export function presentManagers(m: ManagerFacts): { manager: HookManager; hook?: RemoteFile }[] {
  return HOOK_MANAGERS.filter((k) => m[k]).map((k) => ({ manager: k, hook: m[k]!.hook }));
}

/** fleetmasq's hook files on the robot, its manager installed or not (remove takes them all). */
export function foundHooks(m: ManagerFacts): { manager: HookManager; hook: RemoteFile }[] {
  return HOOK_MANAGERS.flatMap((k) => {
    const hook = m[k]?.hook ?? m.hooks?.[k];
    return hook ? [{ manager: k, hook }] : [];
  });
}
