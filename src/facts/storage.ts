/**
 * Does what fleetmasq writes survive a boot? A robot whose root is volatile (an overlay with a tmpfs
 * upper layer: Raspberry Pi OS's "overlay file system", overlayroot, images booted with systemd's
 * volatile mode) discards every change to /etc at boot by design; a read-only root takes none. The facts
 * are the mounts that hold /etc and /usr (from /proc/mounts), the mounts that hold an overlay's upper
 * layer, and the kernel command line's overlay switches; rootState judges them (pure).
 */
import { fact } from './section.js';

/** A mount as /proc/mounts shows it (the mount point unescaped). */
export interface MountFact {
  mp: string;
  fs: string;
  ro: boolean;
  /** An overlay's upper layer (its upperdir option). */
  upper?: string;
}

export interface StorageFacts {
  /** Mounts at /, /etc…, /usr… in /proc/mounts order (the last one at a mount point is the visible one). */
  mounts: MountFact[];
  /** Mounts that hold (a prefix of) an overlay's upper layer, other than /. */
  uppers: MountFact[];
  /** Upper layers whose directory this robot sees (the path is the mounter's: it may be another namespace's). */
  seen?: string[];
  /** Raspberry Pi OS's overlay (`boot=overlay` on the kernel command line). */
  rpiOverlay?: boolean;
  /** `overlayroot=` on the kernel command line (Ubuntu/Raspberry Pi's overlayroot), its value. */
  overlayroot?: string;
}

/**
 * The storage section: awk reads /proc/mounts in one process (a robot in a big mount namespace may list
 * thousands of mounts: only those that hold /etc or /usr, and those under an overlay's upper layer, are
 * printed); the kernel command line by the shell's own `read`.
 */
export const STORAGE_SH = `awk '
{ mp[NR] = $2; fs[NR] = $3; op[NR] = $4 }
$2 == "/" || $2 == "/etc" || index($2, "/etc/") == 1 || $2 == "/usr" || index($2, "/usr/") == 1 {
  print "mnt", $2, $3, $4
  if ($3 == "overlay") { n = split($4, o, ","); for (i = 1; i <= n; i++) if (index(o[i], "upperdir=") == 1) up[substr(o[i], 10)] = 1 }
}
END { for (u in up) { print "upper", u; for (j = 1; j <= NR; j++) if (mp[j] != "/" && index(u, mp[j] "/") == 1) print "up", mp[j], fs[j], op[j] } }
' /proc/mounts 2>/dev/null | while read -r k a r; do
  printf '%s %s %s\\n' "$k" "$a" "$r"
  # An upper layer's path is the mounter's view: only one this robot sees too is judged by its mount.
  if [ "$k" = upper ] && [ -d "$a" ]; then printf 'seen %s\\n' "$a"; fi
done
c=; read -r c 2>/dev/null < /proc/cmdline || :
case " $c " in *" boot=overlay "*) echo "cmd boot=overlay" ;; esac
case " $c " in *" overlayroot="*) r=\${c##*overlayroot=}; echo "cmd overlayroot=\${r%% *}" ;; esac`;

/** /proc/mounts escapes space, tab, newline and backslash in paths as octal. */
const unescape = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

function mountOf(fields: string[]): MountFact | undefined {
  const [mp, fs, opts] = fields;
  if (!mp || !fs || !opts || !mp.startsWith('/')) return undefined;
  const o = opts.split(',');
  const upper = o.find((x) => x.startsWith('upperdir='))?.slice(9);
  return { mp: unescape(mp), fs, ro: o.includes('ro'), ...(upper ? { upper: unescape(upper) } : {}) };
}

export function parseStorage(lines: string[]): StorageFacts {
  const s: StorageFacts = { mounts: [], uppers: [] };
  for (const l of lines) {
    const [k, ...rest] = l.trim().split(' ');
    if (k === 'mnt' || k === 'up') {
      const m = mountOf(rest);
      if (m) (k === 'mnt' ? s.mounts : s.uppers).push(m);
    } else if (k === 'seen' && rest.length) {
      (s.seen ??= []).push(unescape(rest.join(' ')));
    } else if (k === 'cmd') {
      const w = rest.join(' ');
      if (w === 'boot=overlay') s.rpiOverlay = true;
      else if (w.startsWith('overlayroot=')) s.overlayroot = w.slice(12);
    }
  }
  return s;
}

/** Whether what fleetmasq writes under /etc survives a boot (a volatile or read-only root). */
export const STORAGE = fact({
  name: 'storage',
  sh: STORAGE_SH,
  reads: ['/proc/mounts', '/proc/cmdline'],
  parse: (l): { /** The file systems that hold fleetmasq's boot persistence (see src/facts/storage.ts). */ storage?: StorageFacts } => ({ storage: parseStorage(l) }),
});

/**
 * How a location's file system behaves across a boot:
 * - persistent: what is written there is there after the boot;
 * - volatile: written, but gone at boot (`how` says why);
 * - read-only: nothing can be written there;
 * - unknown: an overlay whose upper layer the robot cannot see (a container's root): not judged.
 */
export type RootKind = 'persistent' | 'volatile' | 'read-only' | 'unknown';
export type VolatileHow = 'rpi-overlay' | 'overlayroot' | 'tmpfs' | 'overlay-tmpfs' | 'nspawn-volatile';

/** The upper layer systemd-nspawn --volatile=overlay makes: a tmpfs it mounts on a fresh /tmp/nspawn-volatile-XXXXXX. */
const NSPAWN_VOLATILE_UPPER = /^\/tmp\/nspawn-volatile-[A-Za-z0-9]{6}\/upper$/;

export interface RootState {
  kind: RootKind;
  /** The location judged (a path fleetmasq writes to). */
  path: string;
  /** The mount that holds it (absent when none was read). */
  mount?: string;
  fstype?: string;
  how?: VolatileHow;
  /** An overlay's upper layer: its directory and the mount (and type) that holds it. */
  upper?: { dir: string; mount?: string; fstype?: string };
  /** overlayroot's value on the kernel command line. */
  overlayroot?: string;
}

const RAM_FS = new Set(['tmpfs', 'ramfs']);

/** The longest mount point that holds `path` (the last one listed at that mount point). */
function holder(mounts: MountFact[], path: string): MountFact | undefined {
  let best: MountFact | undefined;
  for (const m of mounts) {
    const inside = m.mp === '/' || path === m.mp || path.startsWith(`${m.mp}/`);
    if (inside && (!best || m.mp.length >= best.mp.length)) best = m;
  }
  return best;
}

/** Whether what is written at `path` survives a boot, by the robot's mounts and command line. */
export function rootState(s: StorageFacts | undefined, path: string): RootState {
  if (!s) return { kind: 'unknown', path };
  if (s.rpiOverlay) return { kind: 'volatile', path, how: 'rpi-overlay' };
  const or = s.overlayroot;
  // overlayroot=tmpfs (or tmpfs:swap=…, recurse=…): an upper layer in RAM; "disabled" or a device: not volatile.
  if (or !== undefined && /^tmpfs(:|$)/.test(or)) return { kind: 'volatile', path, how: 'overlayroot', overlayroot: or };
  const m = holder(s.mounts, path);
  if (!m) return { kind: 'unknown', path };
  const base = { path, mount: m.mp, fstype: m.fs };
  if (m.ro) return { kind: 'read-only', ...base };
  if (RAM_FS.has(m.fs)) return { kind: 'volatile', ...base, how: 'tmpfs' };
  if (m.fs === 'overlay' && m.upper) {
    if (!s.seen?.includes(m.upper)) {
      // Not this robot's path: systemd-nspawn's volatile overlay is known by its name, anything else is not judged.
      if (NSPAWN_VOLATILE_UPPER.test(m.upper)) return { kind: 'volatile', ...base, how: 'nspawn-volatile', upper: { dir: m.upper, fstype: 'tmpfs' } };
      return { kind: 'unknown', ...base, upper: { dir: m.upper } };
    }
    const u = holder(s.uppers, m.upper);
    const upper = { dir: m.upper, ...(u ? { mount: u.mp, fstype: u.fs } : {}) };
    if (!u) return { kind: 'unknown', ...base, upper };
    if (RAM_FS.has(u.fs)) return { kind: 'volatile', ...base, how: 'overlay-tmpfs', upper };
    return { kind: u.ro ? 'read-only' : 'persistent', ...base, upper };
  }
  return { kind: 'persistent', ...base };
}

/** A path or value read from a robot, safe to print: no control characters, at most 120 characters. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 117)}...` : clean;
}

/** Why a location is volatile or read-only, in words. */
export function rootStateText(r: RootState): string {
  const on = r.mount ? ` (${printable(r.mount)}, ${printable(r.fstype ?? '?')})` : '';
  switch (r.kind) {
    case 'read-only':
      return `${r.path} is on a read-only file system${on}${r.upper ? ` (its upper layer ${printable(r.upper.dir)} is read-only)` : ''}`;
    case 'volatile':
      switch (r.how) {
        case 'rpi-overlay':
          return `the root is Raspberry Pi OS's overlay file system (boot=overlay on the kernel command line): ${r.path} is in RAM and every change there is lost at boot`;
        case 'overlayroot':
          return `the root is an overlayroot in RAM (overlayroot=${printable(r.overlayroot ?? '')} on the kernel command line): every change to ${r.path} is lost at boot`;
        case 'tmpfs':
          return `${r.path} is on a tmpfs${on}: every change there is lost at boot`;
        case 'nspawn-volatile':
          return `the root is systemd-nspawn's volatile overlay (--volatile=overlay: its upper layer ${printable(r.upper?.dir ?? '?')} is a tmpfs outside the robot): every change to ${r.path} is lost at boot`;
        default:
          return `${r.path} is on an overlay whose upper layer ${printable(r.upper?.dir ?? '?')} is on a ${r.upper?.fstype ?? 'tmpfs'}${r.upper?.mount ? ` (${printable(r.upper.mount)})` : ''}: every change there is lost at boot`;
      }
    case 'unknown':
      return r.upper
        ? `${r.path} is on an overlay whose upper layer (${printable(r.upper.dir)}) this robot cannot see: whether changes survive a boot is unknown`
        : `no mount holding ${r.path} was read: whether changes survive a boot is unknown`;
    case 'persistent':
      return `${r.path} is on a persistent file system${on}`;
  }
}

/** The ways out for boot persistence on a volatile or read-only root. */
export const WAYS_OUT =
  'disable the overlay (raspi-config: Performance Options > Overlay File System; overlayroot=disabled), keep /etc on a persistent partition, or set masquerade_persistence: external and put the rule back at boot from the image itself (fleetmasq snippet)';
