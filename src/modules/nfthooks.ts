/**
 * Hooks for the nftables backend (pure). fleetmasq's own nftables table survives every tool that rewrites
 * only iptables' nat table (iptables-restore, netfilter-persistent, ufw) and firewalld's own tables; what
 * takes it is a ruleset flush: nftables.service's conf (`flush ruleset`, Debian's default). So the only
 * hook is a drop-in for nftables.service that makes the table again after each start, restart and reload;
 * fleetmasq's own file, at the same path as the iptables backend's (hooks.ts), deleted by remove.
 */
import type { HookManager, ManagerFacts, RemoteFile } from '../facts/managers.js';
import type { HookState } from './hooks.js';
import { nftBatch } from './rule.js';

/** The managers whose flush takes fleetmasq's nftables table. */
export const NFT_FLUSHERS: readonly HookManager[] = ['nftables'];

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

export function nftHookState(spec: string, current?: RemoteFile): HookState {
  if (!current) return { ok: false, why: 'missing' };
  const want = desiredNftHook(spec);
  return want.content === current.content && want.mode === current.mode ? { ok: true } : { ok: false, why: 'stale' };
}

/** The managers present that flush fleetmasq's nftables table, with their hook files as they are. */
export function presentNftFlushers(m: ManagerFacts): { manager: HookManager; hook?: RemoteFile }[] {
  return NFT_FLUSHERS.filter((k) => m[k]).map((k) => ({ manager: k, hook: m[k]!.hook }));
}
