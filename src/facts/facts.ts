/**
 * Facts first: one remote command per robot gathers everything the modules need; a pure parser turns
 * its output into typed facts. Nothing here changes the robot (the other backend is only listed when its
 * tables already exist, so listing never creates them).
 */
export const UNIT_NAME = 'fleetmasq-masquerade.service';
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
export const RC_LOCAL = '/etc/rc.local';
export const MARKER = '/run/fleetmasq/boot-marker';

/** The symlink `systemctl enable` makes for the unit's WantedBy=multi-user.target. */
export const WANTS_LINK = `/etc/systemd/system/multi-user.target.wants/${UNIT_NAME}`;

// Built-ins where a process is not needed: every process started here costs the robot ~1-2 ms of CPU,
// and `systemctl is-enabled` ~10 ms (half of the whole script, with PID 1's share). So systemctl is
// asked only when the files leave a doubt:
// - our unit: enabled when the .wants symlink that enable made is there and resolves (it is what makes
//   systemd start the unit at boot; a runtime mask in /run cannot override a unit file in /etc); in any
//   other case, systemctl says.
// - rc-local.service can only be masked by a symlink (to /dev/null) or an empty file in a unit
//   directory; with none there it is 'not-masked', otherwise systemctl says what it is.
export const FACTS_SCRIPT = `export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
m() { printf '\\n@@FM %s\\n' "$1"; }
read -r pid1 < /proc/1/comm
m boot_id; read -r b < /proc/sys/kernel/random/boot_id; echo "$b"
m pid1; echo "$pid1"
m uid; while read -r k r e _; do [ "$k" = Uid: ] && { echo "$e"; break; }; done < /proc/self/status
v=$(iptables -V 2>&1)
m iptables_v; echo "$v"
m rules; iptables -w 5 -t nat -S POSTROUTING 2>&1; printf '\\n@rc=%s\\n' "$?"
m rules_other
case "$v" in
  *nf_tables*) if command -v iptables-legacy >/dev/null 2>&1 && [ -r /proc/net/ip_tables_names ]; then
      while read -r t; do [ "$t" = nat ] && { echo "@backend=legacy"; iptables-legacy -w 5 -t nat -S POSTROUTING 2>/dev/null; break; }; done < /proc/net/ip_tables_names
    fi ;;
  *legacy*) if command -v iptables-nft >/dev/null 2>&1; then echo "@backend=nft"; iptables-nft -w 5 -t nat -S POSTROUTING 2>/dev/null; fi ;;
esac
m routes; ip -o -4 route show default 2>&1
m links; ip -o link show 2>&1
m rclocal; if [ -e ${RC_LOCAL} ]; then [ -L ${RC_LOCAL} ] && echo "@path=$(readlink -f ${RC_LOCAL})"; stat -L -c '%a' ${RC_LOCAL}; base64 ${RC_LOCAL}; fi
m unit; if [ -e ${UNIT_PATH} ]; then base64 ${UNIT_PATH}; fi
m systemd_state
if [ "$pid1" = systemd ]; then
  u=
  if [ -e ${UNIT_PATH} ]; then
    if [ -L ${WANTS_LINK} ] && [ -e ${WANTS_LINK} ]; then u=enabled
    else u=$(systemctl is-enabled ${UNIT_NAME} 2>/dev/null); fi
  fi
  echo "unit=$u"
  r=not-masked
  for d in /etc/systemd/system /run/systemd/system /usr/local/lib/systemd/system /usr/lib/systemd/system /lib/systemd/system; do
    if [ -L $d/rc-local.service ] || { [ -f $d/rc-local.service ] && [ ! -s $d/rc-local.service ]; }; then
      r=$(systemctl is-enabled rc-local.service 2>/dev/null); break
    fi
  done
  echo "rclocal=$r"
fi
m marker; cat ${MARKER} 2>/dev/null
m end
`;

export interface Route {
  dev: string;
  metric: number;
  via?: string;
}

export interface Link {
  name: string;
  up: boolean;
  lowerUp: boolean;
}

export interface Facts {
  bootId: string;
  systemd: boolean;
  uid: number;
  backend: 'nft' | 'legacy' | 'unknown';
  iptablesVersion: string;
  /** POSTROUTING rules (-S format) in the active backend. */
  rules: string[];
  rulesError?: string;
  /** The other backend, when its nat table exists: its POSTROUTING rules. */
  other?: { backend: 'nft' | 'legacy'; rules: string[] };
  routes: Route[];
  links: Link[];
  /** /etc/rc.local (its target's mode and bytes when it is a symlink, and the target's path). */
  rcLocal?: { mode: number; content: string; path?: string };
  unit?: string;
  /** `systemctl is-enabled` of our unit ('enabled' read from its .wants symlink); set only when its file exists. */
  unitEnabled?: string;
  /** `systemctl is-enabled rc-local.service` when it could be masked, else 'not-masked'. */
  rcLocalService?: string;
  marker?: { bootId: string; method: string; iface: string };
}

export class FactsError extends Error {}

function sections(out: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let cur: string | undefined;
  for (const line of out.split('\n')) {
    const m = /^@@FM (\w+)$/.exec(line);
    if (m) {
      cur = m[1]!;
      map.set(cur, []);
    } else if (cur) map.get(cur)!.push(line);
  }
  for (const [k, v] of map) {
    while (v.length && v[v.length - 1] === '') v.pop();
    map.set(k, v);
  }
  return map;
}

export function parseFacts(out: string): Facts {
  const s = sections(out);
  if (!s.has('end')) throw new FactsError('fact gathering did not complete');
  const one = (k: string) => (s.get(k) ?? [])[0]?.trim() ?? '';
  const bootId = one('boot_id');
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(bootId)) throw new FactsError(`unexpected boot_id '${bootId}'`);
  const ver = one('iptables_v');
  const backend = /nf_tables/.test(ver) ? 'nft' : /legacy/.test(ver) ? 'legacy' : 'unknown';
  const rawRules = s.get('rules') ?? [];
  const rc = rawRules.find((l) => l.startsWith('@rc='));
  const rules = rawRules.filter((l) => l.startsWith('-A '));
  const f: Facts = {
    bootId,
    systemd: one('pid1') === 'systemd',
    uid: Number(one('uid')),
    backend,
    iptablesVersion: ver,
    rules,
    routes: [],
    links: [],
  };
  if (rc && rc !== '@rc=0') f.rulesError = rawRules.filter((l) => !l.startsWith('@rc=')).join(' ').trim() || rc;
  const other = s.get('rules_other') ?? [];
  const ob = other.find((l) => l.startsWith('@backend='));
  if (ob) f.other = { backend: ob.slice(9) as 'nft' | 'legacy', rules: other.filter((l) => l.startsWith('-A ')) };
  for (const l of s.get('routes') ?? []) {
    const dev = /\bdev (\S+)/.exec(l)?.[1];
    if (!dev || !l.startsWith('default')) continue;
    f.routes.push({ dev, metric: Number(/\bmetric (\d+)/.exec(l)?.[1] ?? 0), via: /\bvia (\S+)/.exec(l)?.[1] });
  }
  for (const l of s.get('links') ?? []) {
    const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>/.exec(l);
    if (!m) continue;
    const flags = m[2]!.split(',');
    f.links.push({ name: m[1]!, up: flags.includes('UP'), lowerUp: flags.includes('LOWER_UP') });
  }
  const rl = s.get('rclocal') ?? [];
  const link = rl[0]?.startsWith('@path=') ? rl.shift()!.slice(6).trim() : undefined;
  // base64 wraps its output at 76 columns: a file's lines are joined back.
  if (rl.length >= 1 && rl[0]!.trim())
    f.rcLocal = { mode: parseInt(rl[0]!.trim(), 8), content: Buffer.from(rl.slice(1).join(''), 'base64').toString('utf8'), ...(link !== undefined ? { path: link } : {}) };
  const unit = (s.get('unit') ?? []).join('').trim();
  if (unit) f.unit = Buffer.from(unit, 'base64').toString('utf8');
  for (const l of s.get('systemd_state') ?? []) {
    const [k, v] = [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()];
    if (k === 'unit') f.unitEnabled = v || undefined;
    if (k === 'rclocal') f.rcLocalService = v || undefined;
  }
  const mk = one('marker').split(/\s+/);
  if (mk.length >= 3 && /^[0-9a-f-]{36}$/.test(mk[0]!)) f.marker = { bootId: mk[0]!, method: mk[1]!, iface: mk[2]! };
  return f;
}
