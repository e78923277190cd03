/**
 * Facts first: one remote command per robot gathers everything the modules need; a pure parser turns
 * its output into typed facts. Each fact is one declared section (see section.ts): its shell, the paths
 * it reads, its parser and how it shows, side by side; `Facts` is what the sections parse into, so adding
 * a fact is one entry in SECTIONS (docs/architecture.md, "How to add a fact"). Nothing here changes the
 * robot (the other backend is only listed when its tables already exist, so listing never creates them).
 */
import { BOOT_ID_PATH, BOOT_ID_RE, MARKER, RC_LOCAL, UNIT_NAME, UNIT_PATH, WANTS_LINK } from '../remote/paths.js';
import { shQuote } from '../remote/script.js';
import { isIfaceName, isIfaceSpecPart, isIPv4 } from '../remote/values.js';
import { MANAGERS } from './managers.js';
import { STORAGE } from './storage.js';
import { NFT_TABLE, nftRulesAsIptables } from '../modules/rule.js';
import { fact, FactsError, factsScript, parseWith, readsOf, shownWith, type DetailsOf, type FactsOf } from './section.js';

export { MARKER, RC_LOCAL, UNIT_NAME, UNIT_PATH, WANTS_LINK };
export { FactsError };

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

const first = (lines: string[]) => lines[0]?.trim() ?? '';
const q = shQuote;

const BOOT_ID = fact({
  name: 'boot_id',
  sh: `read -r b < ${q(BOOT_ID_PATH)}; echo "$b"`,
  reads: [BOOT_ID_PATH],
  parse: (l) => {
    const bootId = first(l);
    if (!BOOT_ID_RE.test(bootId)) throw new FactsError(`unexpected boot_id '${bootId}'`);
    return { bootId };
  },
  show: (f): { /** The robot's boot id when its facts were read. */ bootId: string } => ({ bootId: f.bootId }),
});

const PID1 = fact({
  name: 'pid1',
  sh: 'echo "$pid1"',
  reads: [],
  parse: (l) => ({ systemd: first(l) === 'systemd' }),
  show: (f): { /** The robot runs systemd. */ systemd: boolean } => ({ systemd: f.systemd }),
});

const UID = fact({
  name: 'uid',
  sh: 'while read -r k r e _; do [ "$k" = Uid: ] && { echo "$e"; break; }; done < /proc/self/status',
  reads: ['/proc/self/status'],
  parse: (l) => {
    // Decimal digits only: not '', '0x0', '1e3' or ' ' (which Number() reads as numbers, some as root's 0).
    if (!/^\d{1,10}$/.test(first(l))) throw new FactsError(`unexpected uid '${first(l).slice(0, 40)}'`);
    return { uid: Number(first(l)) };
  },
});

const IPTABLES_V = fact({
  name: 'iptables_v',
  sh: 'echo "$v"',
  reads: [],
  parse: (l): { backend: 'nft' | 'legacy' | 'unknown'; iptablesVersion: string } => {
    const iptablesVersion = first(l);
    return { iptablesVersion, backend: /nf_tables/.test(iptablesVersion) ? 'nft' : /legacy/.test(iptablesVersion) ? 'legacy' : 'unknown' };
  },
  // (check and apply show 'nftables' instead when the rule is fleetmasq's own nftables table: describe().)
  show: (f): { /** The iptables backend (nft or legacy), or nftables. */ backend: string } => ({ backend: f.backend }),
});

interface Rules {
  /** POSTROUTING rules (-S format) in the active backend. */
  rules: string[];
  rulesError?: string;
}

const RULES = fact({
  // The exit status on a line of its own: an iptables that fails without a final newline is an error too.
  name: 'rules',
  sh: `iptables -w 5 -t nat -S POSTROUTING 2>&1; printf '\\n@rc=%s\\n' "$?"`,
  reads: [],
  parse: (l): Rules => {
    const f: Rules = { rules: l.filter((x) => x.startsWith('-A ')) };
    const rc = l.find((x) => x.startsWith('@rc='));
    if (rc && rc !== '@rc=0') f.rulesError = l.filter((x) => !x.startsWith('@rc=')).join(' ').trim() || rc;
    return f;
  },
});

const RULES_OTHER = fact({
  name: 'rules_other',
  sh: `case "$v" in
  *nf_tables*) if command -v iptables-legacy >/dev/null 2>&1 && [ -r /proc/net/ip_tables_names ]; then
      while read -r t; do [ "$t" = nat ] && { echo "@backend=legacy"; iptables-legacy -w 5 -t nat -S POSTROUTING 2>/dev/null; break; }; done < /proc/net/ip_tables_names
    fi ;;
  *legacy*) if command -v iptables-nft >/dev/null 2>&1; then echo "@backend=nft"; iptables-nft -w 5 -t nat -S POSTROUTING 2>/dev/null; fi ;;
esac`,
  reads: ['/proc/net/ip_tables_names'],
  parse: (l): { /** The other backend, when its nat table exists: its POSTROUTING rules. */ other?: { backend: 'nft' | 'legacy'; rules: string[] } } => {
    const ob = l.find((x) => x.startsWith('@backend='))?.slice(9);
    // (Only the two names the section prints: anything else was not printed by it.)
    return ob === 'nft' || ob === 'legacy' ? { other: { backend: ob, rules: l.filter((x) => x.startsWith('-A ')) } } : {};
  },
});

/** What the robot lists, split: those whose interface name fleetmasq accepts, and those it refuses. */
function byName<T>(items: T[], name: (t: T) => string): { accepted: T[]; refused?: T[] } {
  const refused = items.filter((t) => !isIfaceName(name(t)));
  // A name fleetmasq would refuse in the inventory is kept apart: it can never become the uplink.
  return { accepted: items.filter((t) => isIfaceName(name(t))), ...(refused.length ? { refused } : {}) };
}

/** A default route line of `ip -o -4 route show default` (other lines: none). */
function routeOf(x: string): Route[] {
  const dev = /\bdev (\S+)/.exec(x)?.[1];
  if (!dev || !x.startsWith('default')) return [];
  const via = /\bvia (\S+)/.exec(x)?.[1];
  return [{ dev, metric: Number(/\bmetric (\d{1,10})\b/.exec(x)?.[1] ?? 0), ...(via !== undefined && isIPv4(via) ? { via } : {}) }];
}

const ROUTES = fact({
  name: 'routes',
  sh: 'ip -o -4 route show default 2>&1',
  reads: [],
  parse: (
    l,
  ): {
    /** Default routes whose interface name fleetmasq accepts (see src/remote/values.ts). */
    routes: Route[];
    /** Default routes on an interface whose name fleetmasq refuses (never used, only reported). */
    refusedRoutes?: Route[];
  } => {
    const { accepted, refused } = byName(l.flatMap(routeOf), (r) => r.dev);
    return { routes: accepted, ...(refused ? { refusedRoutes: refused } : {}) };
  },
});

/** A line of `ip -o link show` (other lines: none). */
function linkOf(x: string): Link[] {
  const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:\s+<([^>]*)>/.exec(x);
  if (!m) return [];
  const flags = m[2]!.split(',');
  return [{ name: m[1]!, up: flags.includes('UP'), lowerUp: flags.includes('LOWER_UP') }];
}

const LINKS = fact({
  name: 'links',
  sh: 'ip -o link show 2>&1',
  reads: [],
  parse: (l): { links: Link[]; /** Interfaces whose names fleetmasq refuses (left out of links). */ refusedLinks?: string[] } => {
    const { accepted, refused } = byName(l.flatMap(linkOf), (k) => k.name);
    return { links: accepted, ...(refused ? { refusedLinks: refused.map((k) => k.name) } : {}) };
  },
});

interface RcLocal {
  /**
   * /etc/rc.local (its target's mode and bytes when it is a symlink, and the target's path). `untrusted`:
   * why someone other than root could change it (the file, or a folder above it, owned or writable by
   * another user, such as the login user's home): root never edits such a file.
   */
  rcLocal?: { mode: number; content: string; path?: string; notUtf8?: boolean; untrusted?: string };
}

const RC = q(RC_LOCAL);
const RCLOCAL = fact({
  // A symlink's target: its path, then its mode and bytes.
  name: 'rclocal',
  // Who could change the file fleetmasq would edit as root: its owner and mode, and every folder above it
  // (one stat for all), beside the uid this runs as.
  sh: `if [ -e ${RC} ]; then
  fm_p=$(readlink -f ${RC}); set --
  while [ -n "$fm_p" ]; do set -- "$@" "$fm_p"; fm_p=\${fm_p%/*}; done
  echo "@euid=$(id -u)"; stat -c '@own %u %a' "$@" 2>/dev/null
  [ -L ${RC} ] && echo "@path=$(readlink -f ${RC})"; stat -L -c '%a' ${RC}; base64 ${RC}
fi`,
  reads: [RC_LOCAL],
  parse: (l): RcLocal => {
    const euid = l.find((x) => x.startsWith('@euid='))?.slice(6).trim();
    const own = l.filter((x) => x.startsWith('@own '));
    const rest = l.filter((x) => !x.startsWith('@own ') && !x.startsWith('@euid='));
    const link = rest[0]?.startsWith('@path=') ? rest.shift()!.slice(6).trim() : undefined;
    // base64 wraps its output at 76 columns: a file's lines are joined back.
    if (!(rest.length >= 1 && rest[0]!.trim())) return {};
    const bytes = Buffer.from(rest.slice(1).join(''), 'base64');
    const content = bytes.toString('utf8');
    // Bytes that are not UTF-8 would not survive an edit: such a file is read, never written.
    const notUtf8 = !Buffer.from(content, 'utf8').equals(bytes);
    // (Output without the @euid line was not made by this script's section, so it says nothing of owners.)
    const untrusted = euid === undefined ? undefined : foreignWritable(own, euid, link ?? RC_LOCAL);
    return {
      rcLocal: {
        mode: parseInt(rest[0]!.trim(), 8),
        content,
        ...(link !== undefined ? { path: link } : {}),
        ...(notUtf8 ? { notUtf8 } : {}),
        ...(untrusted ? { untrusted } : {}),
      },
    };
  },
});

const UNIT = fact({
  name: 'unit',
  sh: `if [ -e ${q(UNIT_PATH)} ]; then base64 ${q(UNIT_PATH)}; fi`,
  reads: [UNIT_PATH],
  parse: (l): { unit?: string } => {
    const unit = l.join('').trim();
    return unit ? { unit: Buffer.from(unit, 'base64').toString('utf8') } : {};
  },
});

interface SystemdState {
  /** `systemctl is-enabled` of our unit ('enabled' read from its .wants symlink); set only when its file exists. */
  unitEnabled?: string;
  /** `systemctl is-enabled rc-local.service` when it could be masked, else 'not-masked'. */
  rcLocalService?: string;
}

const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/local/lib/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

// Built-ins where a process is not needed: every process started here costs the robot ~1-2 ms of CPU,
// and `systemctl is-enabled` ~10 ms (half of the whole script, with PID 1's share). So systemctl is
// asked only when the files leave a doubt:
// - our unit: enabled when the .wants symlink that enable made is there and resolves (it is what makes
//   systemd start the unit at boot; a runtime mask in /run cannot override a unit file in /etc); in any
//   other case, systemctl says.
// - rc-local.service can only be masked by a symlink (to /dev/null) or an empty file in a unit
//   directory; with none there it is 'not-masked', otherwise systemctl says what it is.
const SYSTEMD_STATE = fact({
  name: 'systemd_state',
  sh: `if [ "$pid1" = systemd ]; then
  u=
  if [ -e ${q(UNIT_PATH)} ]; then
    if [ -L ${q(WANTS_LINK)} ] && [ -e ${q(WANTS_LINK)} ]; then u=enabled
    else u=$(systemctl is-enabled ${q(UNIT_NAME)} 2>/dev/null); fi
  fi
  echo "unit=$u"
  r=not-masked
  for d in ${UNIT_DIRS.map(q).join(' ')}; do
    if [ -L $d/rc-local.service ] || { [ -f $d/rc-local.service ] && [ ! -s $d/rc-local.service ]; }; then
      r=$(systemctl is-enabled rc-local.service 2>/dev/null); break
    fi
  done
  echo "rclocal=$r"
fi`,
  reads: [UNIT_PATH, WANTS_LINK, ...UNIT_DIRS],
  parse: (l): SystemdState => {
    const f: SystemdState = {};
    for (const x of l) {
      const [k, v] = [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1).trim()];
      if (k === 'unit') f.unitEnabled = v || undefined;
      if (k === 'rclocal') f.rcLocalService = v || undefined;
    }
    return f;
  },
});

interface Marker {
  marker?: { bootId: string; method: string; iface: string; /** When it was written (epoch s). */ at?: number };
  /** The robot's clock when the facts were read (epoch s). */
  now?: number;
}

const MARKER_FACT = fact({
  name: 'marker',
  sh: `cat ${q(MARKER)} 2>/dev/null && stat -c '@t=%Y' ${q(MARKER)}; echo "@now=$(date +%s)"`,
  reads: [MARKER],
  parse: (l): Marker => {
    const mk = first(l).split(/\s+/);
    const num = (k: string) => {
      const v = l.find((x) => x.startsWith(k))?.slice(k.length);
      return v && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
    };
    const at = num('@t=');
    const fine = mk.length >= 3 && BOOT_ID_RE.test(mk[0]!) && ['systemd', 'rc.local'].includes(mk[1]!) && mk[2]!.split(',').every(isIfaceSpecPart);
    return { ...(fine ? { marker: { bootId: mk[0]!, method: mk[1]!, iface: mk[2]!, ...(at !== undefined ? { at } : {}) } } : {}), now: num('@now=') };
  },
});

interface Nft {
  /** No iptables command on the robot (an nftables-only robot). */
  iptablesMissing?: boolean;
  /** nftables: whether `nft` is there, and fleetmasq's own table (`table ip fleetmasq`) and its rules as -S lines. */
  nft?: { present: boolean; table: boolean; rules: string[] };
}

const NFT = fact({
  // The nftables backend: is iptables there at all, is nft, and fleetmasq's own table as it is (NFT_TABLE:
  // a constant, two words of nft's syntax, `ip fleetmasq`).
  name: 'nft',
  sh: `command -v iptables >/dev/null 2>&1 || echo @no-iptables
if command -v nft >/dev/null 2>&1; then echo @nft; nft list table ${NFT_TABLE} 2>/dev/null; fi`,
  reads: [],
  parse: (l): Nft => ({
    ...(l.some((x) => x.trim() === '@no-iptables') ? { iptablesMissing: true } : {}),
    ...(l.some((x) => x.trim() === '@nft') ? { nft: { present: true, table: l.some((x) => x.startsWith(`table ${NFT_TABLE} `)), rules: nftRulesAsIptables(l) } } : {}),
  }),
});

/** Every fact, in the order the facts script prints them. */
export const SECTIONS = [BOOT_ID, PID1, UID, IPTABLES_V, RULES, RULES_OTHER, ROUTES, LINKS, RCLOCAL, UNIT, SYSTEMD_STATE, MARKER_FACT, MANAGERS, NFT, STORAGE] as const;

/** A robot's facts: every section's value (see SECTIONS). */
export type Facts = FactsOf<typeof SECTIONS>;
/** What the facts show in a robot's details (src/runner/types.ts's HostDetails extends it). */
export type FactDetails = DetailsOf<typeof SECTIONS>;

/** The facts command: what every section needs first (PID 1's name, `iptables -V`), then the sections. */
export const FACTS_SCRIPT = factsScript(SECTIONS);

/** Every robot path the facts command reads. */
export const FACT_READS = readsOf(SECTIONS);

export function parseFacts(out: string): Facts {
  return parseWith(SECTIONS, out);
}

/** The robot's details as its facts alone show them. */
export function factDetails(facts: Facts): FactDetails {
  return shownWith(SECTIONS, facts);
}
