/**
 * Facts first: one remote command per robot gathers everything the modules need; a pure parser turns
 * its output into typed facts. Each fact is a section: its shell and its parser side by side, so adding
 * a fact is one small entry in SECTIONS. Nothing here changes the robot (the other backend is only
 * listed when its tables already exist, so listing never creates them).
 */
import { BOOT_ID_PATH, BOOT_ID_RE, MARKER, RC_LOCAL, UNIT_NAME, UNIT_PATH, WANTS_LINK } from '../remote/paths.js';
import { ENV_SH, SECTION_FN, sections } from '../remote/script.js';
import { isIfaceName, isIfaceSpecPart, isIPv4 } from '../remote/values.js';
import { MANAGERS_SH, parseManagers, type ManagerFacts } from './managers.js';
import { parseStorage, STORAGE_SH, type StorageFacts } from './storage.js';
import { NFT_TABLE, nftRulesAsIptables } from '../modules/rule.js';

export { MARKER, RC_LOCAL, UNIT_NAME, UNIT_PATH, WANTS_LINK };

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
  /** Default routes whose interface name fleetmasq accepts (see src/remote/values.ts). */
  routes: Route[];
  /** Default routes on an interface whose name fleetmasq refuses (never used, only reported). */
  refusedRoutes?: Route[];
  links: Link[];
  /** Interfaces whose names fleetmasq refuses (left out of links). */
  refusedLinks?: string[];
  /** /etc/rc.local (its target's mode and bytes when it is a symlink, and the target's path). */
  /**
   * /etc/rc.local (its target's mode and bytes when it is a symlink, and the target's path). `untrusted`:
   * why someone other than root could change it (the file, or a folder above it, owned or writable by
   * another user, such as the login user's home): root never edits such a file.
   */
  rcLocal?: { mode: number; content: string; path?: string; notUtf8?: boolean; untrusted?: string };
  unit?: string;
  /** `systemctl is-enabled` of our unit ('enabled' read from its .wants symlink); set only when its file exists. */
  unitEnabled?: string;
  /** `systemctl is-enabled rc-local.service` when it could be masked, else 'not-masked'. */
  rcLocalService?: string;
  marker?: { bootId: string; method: string; iface: string; /** When it was written (epoch s). */ at?: number };
  /** The robot's other firewall managers, and fleetmasq's hooks beside them. */
  managers: ManagerFacts;
  /** The robot's clock when the facts were read (epoch s). */
  now?: number;
  /** No iptables command on the robot (an nftables-only robot). */
  iptablesMissing?: boolean;
  /** nftables: whether `nft` is there, and fleetmasq's own table (`table ip fleetmasq`) and its rules as -S lines. */
  nft?: { present: boolean; table: boolean; rules: string[] };
  /** The file systems that hold fleetmasq's boot persistence (see src/facts/storage.ts). */
  storage?: StorageFacts;
}

export class FactsError extends Error {}

/**
 * From `@own UID MODE` lines (the file first, then each folder above it): why another user could change
 * the file, or undefined. Trusted: owned by root (or by the uid the facts ran as), and not writable by
 * group or others, except a sticky folder (/tmp's kind, where only owners rename or delete).
 */
function foreignWritable(own: string[], euid: string, path: string): string | undefined {
  if (!own.length) return `${path}: its owner could not be read`;
  for (const [i, line] of own.entries()) {
    const [, uid, modeS] = line.split(/\s+/);
    const mode = parseInt(modeS ?? '', 8);
    const what = i === 0 ? path : `a folder above ${path}`;
    if (!/^\d+$/.test(uid ?? '') || Number.isNaN(mode)) return `${what}: its owner could not be read`;
    if (uid !== '0' && uid !== euid) return `${what} is owned by uid ${uid}`;
    if (mode & 0o022 && !(i > 0 && mode & 0o1000)) return `${what} is writable by ${mode & 0o002 ? 'everyone' : 'its group'}`;
  }
  return undefined;
}

/** A fact: the shell that prints it (after its `@@FM name` marker) and the parser of those lines. */
interface Section {
  name: string;
  sh: string;
  parse: (lines: string[], f: Facts) => void;
}

const first = (lines: string[]) => lines[0]?.trim() ?? '';

// Built-ins where a process is not needed: every process started here costs the robot ~1-2 ms of CPU,
// and `systemctl is-enabled` ~10 ms (half of the whole script, with PID 1's share). So systemctl is
// asked only when the files leave a doubt:
// - our unit: enabled when the .wants symlink that enable made is there and resolves (it is what makes
//   systemd start the unit at boot; a runtime mask in /run cannot override a unit file in /etc); in any
//   other case, systemctl says.
// - rc-local.service can only be masked by a symlink (to /dev/null) or an empty file in a unit
//   directory; with none there it is 'not-masked', otherwise systemctl says what it is.
const SECTIONS: Section[] = [
  {
    name: 'boot_id',
    sh: `read -r b < ${BOOT_ID_PATH}; echo "$b"`,
    parse: (l, f) => {
      f.bootId = first(l);
      if (!BOOT_ID_RE.test(f.bootId)) throw new FactsError(`unexpected boot_id '${f.bootId}'`);
    },
  },
  { name: 'pid1', sh: 'echo "$pid1"', parse: (l, f) => void (f.systemd = first(l) === 'systemd') },
  {
    name: 'uid',
    sh: 'while read -r k r e _; do [ "$k" = Uid: ] && { echo "$e"; break; }; done < /proc/self/status',
    parse: (l, f) => {
      f.uid = Number(first(l));
      if (!Number.isInteger(f.uid) || f.uid < 0) throw new FactsError(`unexpected uid '${first(l).slice(0, 40)}'`);
    },
  },
  {
    name: 'iptables_v',
    sh: 'echo "$v"',
    parse: (l, f) => {
      f.iptablesVersion = first(l);
      f.backend = /nf_tables/.test(f.iptablesVersion) ? 'nft' : /legacy/.test(f.iptablesVersion) ? 'legacy' : 'unknown';
    },
  },
  {
    // The exit status on a line of its own: an iptables that fails without a final newline is an error too.
    name: 'rules',
    sh: `iptables -w 5 -t nat -S POSTROUTING 2>&1; printf '\\n@rc=%s\\n' "$?"`,
    parse: (l, f) => {
      f.rules = l.filter((x) => x.startsWith('-A '));
      const rc = l.find((x) => x.startsWith('@rc='));
      if (rc && rc !== '@rc=0') f.rulesError = l.filter((x) => !x.startsWith('@rc=')).join(' ').trim() || rc;
    },
  },
  {
    name: 'rules_other',
    sh: `case "$v" in
  *nf_tables*) if command -v iptables-legacy >/dev/null 2>&1 && [ -r /proc/net/ip_tables_names ]; then
      while read -r t; do [ "$t" = nat ] && { echo "@backend=legacy"; iptables-legacy -w 5 -t nat -S POSTROUTING 2>/dev/null; break; }; done < /proc/net/ip_tables_names
    fi ;;
  *legacy*) if command -v iptables-nft >/dev/null 2>&1; then echo "@backend=nft"; iptables-nft -w 5 -t nat -S POSTROUTING 2>/dev/null; fi ;;
esac`,
    parse: (l, f) => {
      const ob = l.find((x) => x.startsWith('@backend='));
      if (ob) f.other = { backend: ob.slice(9) as 'nft' | 'legacy', rules: l.filter((x) => x.startsWith('-A ')) };
    },
  },
  {
    name: 'routes',
    sh: 'ip -o -4 route show default 2>&1',
    parse: (l, f) => {
      for (const x of l) {
        const dev = /\bdev (\S+)/.exec(x)?.[1];
        if (!dev || !x.startsWith('default')) continue;
        const via = /\bvia (\S+)/.exec(x)?.[1];
        const r: Route = { dev, metric: Number(/\bmetric (\d{1,10})\b/.exec(x)?.[1] ?? 0), ...(via !== undefined && isIPv4(via) ? { via } : {}) };
        // A name fleetmasq would refuse in the inventory is kept apart: it can never become the uplink.
        if (isIfaceName(dev)) f.routes.push(r);
        else (f.refusedRoutes ??= []).push(r);
      }
    },
  },
  {
    name: 'links',
    sh: 'ip -o link show 2>&1',
    parse: (l, f) => {
      for (const x of l) {
        const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>/.exec(x);
        if (!m) continue;
        const flags = m[2]!.split(',');
        if (!isIfaceName(m[1]!)) {
          (f.refusedLinks ??= []).push(m[1]!);
          continue;
        }
        f.links.push({ name: m[1]!, up: flags.includes('UP'), lowerUp: flags.includes('LOWER_UP') });
      }
    },
  },
  {
    // A symlink's target: its path, then its mode and bytes.
    name: 'rclocal',
    // Who could change the file fleetmasq would edit as root: its owner and mode, and every folder above it
    // (one stat for all), beside the uid this runs as.
    sh: `if [ -e ${RC_LOCAL} ]; then
  fm_p=$(readlink -f ${RC_LOCAL}); set --
  while [ -n "$fm_p" ]; do set -- "$@" "$fm_p"; fm_p=\${fm_p%/*}; done
  echo "@euid=$(id -u)"; stat -c '@own %u %a' "$@" 2>/dev/null
  [ -L ${RC_LOCAL} ] && echo "@path=$(readlink -f ${RC_LOCAL})"; stat -L -c '%a' ${RC_LOCAL}; base64 ${RC_LOCAL}
fi`,
    parse: (l, f) => {
      const euid = l.find((x) => x.startsWith('@euid='))?.slice(6).trim();
      const own = l.filter((x) => x.startsWith('@own '));
      const rest = l.filter((x) => !x.startsWith('@own ') && !x.startsWith('@euid='));
      const link = rest[0]?.startsWith('@path=') ? rest.shift()!.slice(6).trim() : undefined;
      // base64 wraps its output at 76 columns: a file's lines are joined back.
      if (rest.length >= 1 && rest[0]!.trim()) {
        const bytes = Buffer.from(rest.slice(1).join(''), 'base64');
        const content = bytes.toString('utf8');
        // Bytes that are not UTF-8 would not survive an edit: such a file is read, never written.
        const notUtf8 = !Buffer.from(content, 'utf8').equals(bytes);
        // (Output without the @euid line was not made by this script's section, so it says nothing of owners.)
        const untrusted = euid === undefined ? undefined : foreignWritable(own, euid, link ?? RC_LOCAL);
        f.rcLocal = {
          mode: parseInt(rest[0]!.trim(), 8),
          content,
          ...(link !== undefined ? { path: link } : {}),
          ...(notUtf8 ? { notUtf8 } : {}),
          ...(untrusted ? { untrusted } : {}),
        };
      }
    },
  },
  {
    name: 'unit',
    sh: `if [ -e ${UNIT_PATH} ]; then base64 ${UNIT_PATH}; fi`,
    parse: (l, f) => {
      const unit = l.join('').trim();
      if (unit) f.unit = Buffer.from(unit, 'base64').toString('utf8');
    },
  },
  {
    name: 'systemd_state',
    sh: `if [ "$pid1" = systemd ]; then
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
fi`,
    parse: (l, f) => {
      for (const x of l) {
        const [k, v] = [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1).trim()];
        if (k === 'unit') f.unitEnabled = v || undefined;
        if (k === 'rclocal') f.rcLocalService = v || undefined;
      }
    },
  },
  {
    name: 'marker',
    sh: `cat ${MARKER} 2>/dev/null && stat -c '@t=%Y' ${MARKER}; echo "@now=$(date +%s)"`,
    parse: (l, f) => {
      const mk = first(l).split(/\s+/);
      const num = (k: string) => {
        const v = l.find((x) => x.startsWith(k))?.slice(k.length);
        return v && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
      };
      const at = num('@t=');
      const fine = mk.length >= 3 && BOOT_ID_RE.test(mk[0]!) && ['systemd', 'rc.local'].includes(mk[1]!) && mk[2]!.split(',').every(isIfaceSpecPart);
      if (fine) f.marker = { bootId: mk[0]!, method: mk[1]!, iface: mk[2]!, ...(at !== undefined ? { at } : {}) };
      f.now = num('@now=');
    },
  },
  { name: 'managers', sh: MANAGERS_SH, parse: (l, f) => void (f.managers = parseManagers(l)) },
  {
    // The nftables backend: is iptables there at all, is nft, and fleetmasq's own table as it is.
    name: 'nft',
    sh: `command -v iptables >/dev/null 2>&1 || echo @no-iptables
if command -v nft >/dev/null 2>&1; then echo @nft; nft list table ${NFT_TABLE} 2>/dev/null; fi`,
    parse: (l, f) => {
      if (l.some((x) => x.trim() === '@no-iptables')) f.iptablesMissing = true;
      if (l.some((x) => x.trim() === '@nft')) f.nft = { present: true, table: l.some((x) => x.startsWith(`table ${NFT_TABLE} `)), rules: nftRulesAsIptables(l) };
    },
  },
  // Whether what fleetmasq writes under /etc survives a boot (a volatile or read-only root).
  { name: 'storage', sh: STORAGE_SH, parse: (l, f) => void (f.storage = parseStorage(l)) },
];

/** The facts command: what every section needs first (PID 1's name, `iptables -V`), then the sections. */
export const FACTS_SCRIPT = `${ENV_SH}
${SECTION_FN}
read -r pid1 < /proc/1/comm
v=$(iptables -V 2>&1)
${SECTIONS.map((s) => `m ${s.name}\n${s.sh}`).join('\n')}
m end
`;

export function parseFacts(out: string): Facts {
  const s = sections(out);
  if (!s.has('end')) throw new FactsError('fact gathering did not complete');
  const f: Facts = { bootId: '', systemd: false, uid: NaN, backend: 'unknown', iptablesVersion: '', rules: [], routes: [], links: [], managers: { others: [] }, storage: { mounts: [], uppers: [] } };
  for (const sec of SECTIONS) sec.parse(s.get(sec.name) ?? [], f);
  return f;
}
