/**
 * Facts about the other things that manage a robot's firewall: which are there, whether they run, when
 * they last (re)started, what they do to the nat table, and fleetmasq's hook beside each. File tests
 * first: a manager that is absent costs no process; systemd is asked once, for the present ones only.
 * Output: `@key` lines open a sub-section, the lines after it are its data.
 */
import { FIREWALLD_DIRECT, NFP_HOOK, NFP_RULES_V4, NFT_CONF, NFT_DROPIN, UFW_AFTER_INIT } from '../remote/paths.js';
import { shQuote as q } from '../remote/script.js';
import { fact } from './section.js';

/** The managers that flush the nat table (so that fleetmasq hooks in beside them). */
export const HOOK_MANAGERS = ['netfilter-persistent', 'nftables', 'ufw', 'firewalld'] as const;
export type HookManager = (typeof HOOK_MANAGERS)[number];

export const MANAGER_UNIT: Record<HookManager, string> = {
  'netfilter-persistent': 'netfilter-persistent.service',
  nftables: 'nftables.service',
  ufw: 'ufw.service',
  firewalld: 'firewalld.service',
};

/** A file as read from the robot: its mode and bytes (absent: no file). */
export interface RemoteFile {
  mode: number;
  content: string;
  /** Bytes that are not UTF-8 (an edit could not keep them): such a file is read, never edited. */
  notUtf8?: boolean;
  /** A symbolic link (an edit would replace the link by a file): never edited. */
  link?: boolean;
}

/** Its systemd unit: enabled at boot, running now, and when it last became active (epoch s). */
export interface UnitState {
  enabled: boolean;
  active: boolean;
  since?: number;
}

export interface ManagerFacts {
  /** fleetmasq's hook files found on the robot, whether or not their manager is still installed. */
  hooks?: Partial<Record<HookManager, RemoteFile>>;
  'netfilter-persistent'?: {
    unit?: UnitState;
    /** rules.v4 restores a nat table (and so wipes the live one at every start). */
    savesNat: boolean;
    /** MASQUERADE rules saved in rules.v4 (`-A ...` lines). */
    saved: string[];
    hook?: RemoteFile;
  };
  nftables?: { unit?: UnitState; /** its conf starts with `flush ruleset`. */ flushes: boolean; hook?: RemoteFile };
  ufw?: {
    unit?: UnitState;
    /** ENABLED=yes in ufw.conf. */
    enabled: boolean;
    manageBuiltins: boolean;
    forwardPolicy?: string;
    /** ufw's sysctl.conf turns IPv4 forwarding on. */
    forwarding: boolean;
    /** before.rules has a *nat section of its own. */
    beforeNat: boolean;
    hook?: RemoteFile;
  };
  firewalld?: { unit?: UnitState; backend?: string; version?: string; hook?: RemoteFile };
  docker?: { forwardDrop: boolean; ipForward: boolean };
  /** Present, and not flushing the nat table: NetworkManager, ifupdown, networkd-dispatcher, k3s, kube-proxy. */
  others: string[];
}

const fileSh = (key: string, path: string) =>
  `if [ -f ${q(path)} ]; then [ -L ${q(path)} ] && echo @${key}.link; echo @${key}.mode; stat -L -c %a ${q(path)}; echo @${key}.b64; base64 ${q(path)}; fi`;

const MANAGERS_SH = `u=
if [ -x /usr/sbin/netfilter-persistent ]; then
  echo @nfp; u="$u netfilter-persistent.service"
  if [ -r ${q(NFP_RULES_V4)} ]; then echo @nfp.rules; grep -E '^\\*nat|^-A .*MASQUERADE' ${q(NFP_RULES_V4)}; fi
fi
${fileSh('nfp.hook', NFP_HOOK)}
if [ -x /usr/sbin/nft ] && { [ -e /lib/systemd/system/nftables.service ] || [ -e /usr/lib/systemd/system/nftables.service ]; }; then
  echo @nft; u="$u nftables.service"
  grep -qE '^[[:space:]]*flush[[:space:]]+ruleset' ${q(NFT_CONF)} 2>/dev/null && echo @nft.flushes
fi
${fileSh('nft.hook', NFT_DROPIN)}
if [ -x /usr/sbin/ufw ]; then
  echo @ufw; u="$u ufw.service"
  echo @ufw.conf; grep -hE '^(ENABLED|MANAGE_BUILTINS|DEFAULT_FORWARD_POLICY)=' /etc/ufw/ufw.conf /etc/default/ufw 2>/dev/null
  grep -qE '^net/ipv4/ip_forward=1' /etc/ufw/sysctl.conf 2>/dev/null && echo @ufw.forwarding
  grep -q '^\\*nat' /etc/ufw/before.rules 2>/dev/null && echo @ufw.beforenat
fi
${fileSh('ufw.hook', UFW_AFTER_INIT)}
if [ -x /usr/sbin/firewalld ]; then
  echo @fwd; u="$u firewalld.service"
  echo @fwd.conf; grep -E '^FirewallBackend=' /etc/firewalld/firewalld.conf 2>/dev/null
  for p in /usr/lib/python3/dist-packages/firewall/config/__init__.py /usr/lib/python3*/site-packages/firewall/config/__init__.py; do
    [ -r "$p" ] && { echo @fwd.version; grep -m1 '^VERSION' "$p"; break; }
  done
fi
${fileSh('fwd.hook', FIREWALLD_DIRECT)}
if [ -S /run/docker.sock ] || [ -x /usr/bin/dockerd ]; then
  echo @docker; read -r x < /proc/sys/net/ipv4/ip_forward; echo "ip_forward=$x"; iptables -w 5 -S FORWARD 2>/dev/null | head -n 1
fi
echo @others
[ -x /usr/sbin/NetworkManager ] && echo NetworkManager
[ -x /sbin/ifup ] && [ -e /etc/network/interfaces ] && echo ifupdown
[ -x /usr/bin/networkd-dispatcher ] && echo networkd-dispatcher
[ -x /usr/local/bin/k3s ] && echo k3s
command -v kube-proxy >/dev/null 2>&1 && echo kube-proxy
if [ -n "$u" ] && [ "$pid1" = systemd ]; then
  echo @units; systemctl show --timestamp=unix -p Id -p UnitFileState -p ActiveState -p ActiveEnterTimestamp $u 2>/dev/null
fi
true`;

/** Splits the section's lines at its `@key` lines. */
function subsections(lines: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const l of lines) {
    if (/^@[\w.]+$/.test(l.trim())) m.set(l.trim().slice(1), (cur = []));
    else cur?.push(l);
  }
  return m;
}

function fileOf(s: Map<string, string[]>, key: string): RemoteFile | undefined {
  const mode = s.get(`${key}.mode`)?.[0]?.trim();
  // stat's %a has no leading zeros: 0, 44, 640, 4755.
  if (!mode || !/^[0-7]{1,4}$/.test(mode)) return undefined;
  const bytes = Buffer.from((s.get(`${key}.b64`) ?? []).join(''), 'base64');
  const content = bytes.toString('utf8');
  return {
    mode: parseInt(mode, 8),
    content,
    ...(Buffer.from(content, 'utf8').equals(bytes) ? {} : { notUtf8: true }),
    ...(s.has(`${key}.link`) ? { link: true } : {}),
  };
}

/** A systemd timestamp: `@1764127811` (--timestamp=unix) or `Thu 2026-11-26 03:30:11 UTC`. */
export function parseTimestamp(v: string): number | undefined {
  const t = v.trim();
  if (!t || t === 'n/a') return undefined;
  const unix = /^@(\d+)$/.exec(t);
  if (unix) return Number(unix[1]);
  const m = /(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?: (UTC|[+-]\d{2}:?\d{2}))?/.exec(t);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${!m[3] || m[3] === 'UTC' ? 'Z' : m[3]}`);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** `systemctl show` of several units: blocks of key=value, separated by blank lines. */
export function parseUnits(lines: string[]): Map<string, UnitState> {
  const out = new Map<string, UnitState>();
  let cur: Record<string, string> = {};
  const flush = () => {
    if (cur.Id)
      out.set(cur.Id, {
        enabled: /^(enabled|static|alias|linked)/.test(cur.UnitFileState ?? ''),
        active: cur.ActiveState === 'active' || cur.ActiveState === 'reloading',
        since: parseTimestamp(cur.ActiveEnterTimestamp ?? ''),
      });
    cur = {};
  };
  for (const l of [...lines, '']) {
    if (!l.trim()) flush();
    else {
      const i = l.indexOf('=');
      if (i > 0) cur[l.slice(0, i)] = l.slice(i + 1);
    }
  }
  return out;
}

export function parseManagers(lines: string[]): ManagerFacts {
  const s = subsections(lines);
  const units = parseUnits(s.get('units') ?? []);
  const unit = (m: HookManager) => units.get(MANAGER_UNIT[m]);
  const f: ManagerFacts = { others: (s.get('others') ?? []).map((x) => x.trim()).filter(Boolean) };
  const hooks: Partial<Record<HookManager, RemoteFile>> = {};
  for (const [m, key] of [['netfilter-persistent', 'nfp'], ['nftables', 'nft'], ['ufw', 'ufw'], ['firewalld', 'fwd']] as const) {
    const h = fileOf(s, `${key}.hook`);
    if (h) hooks[m] = h;
  }
  if (Object.keys(hooks).length) f.hooks = hooks;
  if (s.has('nfp')) {
    const rules = s.get('nfp.rules') ?? [];
    f['netfilter-persistent'] = {
      unit: unit('netfilter-persistent'),
      savesNat: rules.some((l) => l.startsWith('*nat')),
      saved: rules.filter((l) => l.startsWith('-A ')).map((l) => l.trim()),
      hook: fileOf(s, 'nfp.hook'),
    };
  }
  if (s.has('nft')) f.nftables = { unit: unit('nftables'), flushes: s.has('nft.flushes'), hook: fileOf(s, 'nft.hook') };
  if (s.has('ufw')) {
    const conf = new Map((s.get('ufw.conf') ?? []).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim().replace(/^"(.*)"$/, '$1')]));
    f.ufw = {
      unit: unit('ufw'),
      enabled: conf.get('ENABLED') === 'yes',
      manageBuiltins: conf.get('MANAGE_BUILTINS') === 'yes',
      forwardPolicy: conf.get('DEFAULT_FORWARD_POLICY'),
      forwarding: s.has('ufw.forwarding'),
      beforeNat: s.has('ufw.beforenat'),
      hook: fileOf(s, 'ufw.hook'),
    };
  }
  if (s.has('fwd')) {
    const backend = /^FirewallBackend=(\S+)/.exec(s.get('fwd.conf')?.[0] ?? '')?.[1];
    const version = /['"]([\d.]+)['"]/.exec(s.get('fwd.version')?.[0] ?? '')?.[1];
    f.firewalld = { unit: unit('firewalld'), backend, version, hook: fileOf(s, 'fwd.hook') };
  }
  if (s.has('docker')) {
    const d = s.get('docker')!;
    f.docker = { ipForward: d.includes('ip_forward=1'), forwardDrop: d.some((l) => l.trim() === '-P FORWARD DROP') };
  }
  return f;
}

/** The paths the managers section reads: the managers' programs, their settings, fleetmasq's hooks. */
const MANAGERS_READS = [
  '/usr/sbin/netfilter-persistent', NFP_RULES_V4, NFP_HOOK,
  '/usr/sbin/nft', '/lib/systemd/system/nftables.service', '/usr/lib/systemd/system/nftables.service', NFT_CONF, NFT_DROPIN,
  '/usr/sbin/ufw', '/etc/ufw/ufw.conf', '/etc/default/ufw', '/etc/ufw/sysctl.conf', '/etc/ufw/before.rules', UFW_AFTER_INIT,
  '/usr/sbin/firewalld', '/etc/firewalld/firewalld.conf', '/usr/lib/python3/dist-packages/firewall/config/__init__.py',
  '/usr/lib/python3*/site-packages/firewall/config/__init__.py', FIREWALLD_DIRECT,
  '/run/docker.sock', '/usr/bin/dockerd', '/proc/sys/net/ipv4/ip_forward',
  '/usr/sbin/NetworkManager', '/sbin/ifup', '/etc/network/interfaces', '/usr/bin/networkd-dispatcher', '/usr/local/bin/k3s',
];

/** The robot's other firewall managers, and fleetmasq's hooks beside them (shown through compliance: managerReports). */
export const MANAGERS = fact({
  name: 'managers',
  sh: MANAGERS_SH,
  reads: MANAGERS_READS,
  parse: (l): { /** The robot's other firewall managers, and fleetmasq's hooks beside them. */ managers: ManagerFacts } => ({ managers: parseManagers(l) }),
});
