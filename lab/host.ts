/**
 * Host-side prerequisites of the lab: packages, kernel knobs, and the cached base root every robot
 * overlays. Everything here is idempotent and safe to run from several test files at once.
 */
import { existsSync, readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '../src/errors.js';
import { run, sh } from '../src/util/proc.js';
import { basePaths, BASE_CACHE, BASE_VERSION, PREP_VERSION } from './paths.js';
import { shQuote } from '../src/util/quote.js';
import type { LabManager, LabOs } from './spec.js';

export type Log = (line: string) => void;

const NEEDED: Record<string, string> = {
  debootstrap: 'debootstrap',
  'systemd-nspawn': 'systemd-container',
  socat: 'socat',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  ip: 'iproute2',
  nsenter: 'util-linux',
  flock: 'util-linux',
};

// python3 (not -minimal): Ansible's modules need the full standard library (shutil...), for the benchmark.
const INCLUDE = 'systemd,systemd-sysv,openssh-server,iptables,iproute2,dbus,sudo,python3,procps';

async function have(cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v ${cmd}`], { nothrow: true })).ok;
}

export async function ensurePackages(log: Log): Promise<void> {
  if (process.getuid?.() !== 0) throw new LabError('the lab needs root (it boots containers and creates network namespaces)');
  const missing = new Set<string>();
  for (const [cmd, pkg] of Object.entries(NEEDED)) if (!(await have(cmd))) missing.add(pkg);
  if (!missing.size) return;
  log(`installing ${[...missing].join(' ')} (apt)`);
  await sh(`flock ${shQuote('/var/lib/apt/fleetmasq.lock')} sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${[...missing].join(' ')}'`, {
    timeoutMs: 15 * 60_000,
  }).catch((e) => {
    throw new LabError(`could not install ${[...missing].join(' ')}: ${(e as Error).message}`);
  });
}

/** Host knobs from the lab notes: inotify instances, and a private /run/systemd/nspawn. */
export async function prepareHost(): Promise<void> {
  await sh(`
    cur=$(cat /proc/sys/fs/inotify/max_user_instances)
    [ "$cur" -ge 8192 ] || echo 8192 > /proc/sys/fs/inotify/max_user_instances
    cur=$(cat /proc/sys/fs/inotify/max_user_watches)
    [ "$cur" -ge 1048576 ] || echo 1048576 > /proc/sys/fs/inotify/max_user_watches
    mkdir -p /run/systemd/nspawn
    mountpoint -q /run/systemd/nspawn || mount -t tmpfs tmpfs /run/systemd/nspawn
  `);
}

/** The apt mirror for bookworm, from the machine's own apt sources. */
export function debianMirror(): string {
  const candidates: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.sources'))) {
      for (const stanza of readFileSync(join(dir, f), 'utf8').split(/\n\s*\n/)) {
        const uris = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
        if (uris && suites.includes('bookworm')) candidates.push(uris);
      }
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
      if (m) candidates.push(m[1]!);
    }
  }
  if (!candidates.length) throw new LabError('no bookworm apt source found in /etc/apt (needed to debootstrap the lab base)');
  return candidates[0]!;
}

/** Files baked into the base root once (then cached). */
function basePrepScript(root: string): string {
  const R = shQuote(root);
  return `
R=${R}
rm -f $R/etc/ssh/ssh_host_*
mkdir -p $R/etc/ssh/sshd_config.d $R/etc/fleetmasq-lab $R/etc/systemd/journald.conf.d
cat > $R/etc/ssh/sshd_config.d/00-fleetmasq-lab.conf <<'X'
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxStartups 200:30:400
X
printf '[Journal]\\nStorage=volatile\\nRuntimeMaxUse=8M\\n' > $R/etc/systemd/journald.conf.d/lab.conf
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer \\
         console-getty.service getty@.service systemd-timesyncd.service e2scrub_reap.service; do
  ln -sf /dev/null $R/etc/systemd/system/$u
done
cat > $R/usr/local/sbin/fleetmasq-lab-net <<'X'
#!/bin/sh
# fleetmasq lab: give the robot its uplink (rename host0, address, default route) before sshd starts.
set -e
. /etc/fleetmasq-lab/net.env
ip link set lo up
if [ "$IFACE" != host0 ] && ip link show host0 >/dev/null 2>&1; then
  ip link set host0 down
  ip link set host0 name "$IFACE"
fi
ip link set "$IFACE" up
ip addr replace "$ADDR/16" dev "$IFACE"
ip route replace default via "$GW" dev "$IFACE" metric 100
n=1
for e in $EXTRA; do
  name=\${e%%:*}; metric=\${e##*:}
  # No dummy driver in this kernel: a veth pair whose far end stays inside the robot.
  ip link show "$name" >/dev/null 2>&1 || ip link add "$name" type veth peer name "x$n-$name"
  ip link set "x$n-$name" up
  ip link set "$name" up
  ip addr replace 192.168.$((100+n)).2/24 dev "$name"
  ip route replace default via 192.168.$((100+n)).1 dev "$name" metric "$metric"
  n=$((n+1))
done
X
chmod 0755 $R/usr/local/sbin/fleetmasq-lab-net
cat > $R/etc/systemd/system/fleetmasq-lab-net.service <<'X'
[Unit]
Description=fleetmasq lab: bring up the robot uplink
DefaultDependencies=no
After=systemd-remount-fs.service
Before=network-pre.target ssh.service
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/fleetmasq-lab-net

[Install]
WantedBy=multi-user.target
X
mkdir -p $R/etc/systemd/system/multi-user.target.wants
ln -sf /etc/systemd/system/fleetmasq-lab-net.service $R/etc/systemd/system/multi-user.target.wants/fleetmasq-lab-net.service
grep -q '^robot:' $R/etc/passwd || chroot $R useradd -m -s /bin/bash robot
mkdir -p $R/home/robot/.ssh
: > $R/etc/machine-id
`;
}

/** Where a release's base root is cached: bookworm's as ever, every other release beside it with its own lock. */
function basePathsOf(os: LabOs) {
  if (os === 'bookworm') return basePaths();
  const dir = join(BASE_CACHE, `${os}-${BASE_VERSION}`);
  return { dir, rootfs: join(dir, 'rootfs'), lock: join(BASE_CACHE, `base-${os}.lock`) };
}

/** Builds (once) and returns the cached base root of a Debian release. Concurrent callers wait on a lock. */
export async function ensureBase(log: Log, os: LabOs = 'bookworm'): Promise<string> {
  const { dir, rootfs, lock } = basePathsOf(os);
  mkdirSync(BASE_CACHE, { recursive: true });
  const prepMarker = join(dir, `prep-${PREP_VERSION}.done`);
  if (existsSync(join(dir, 'debootstrap.done')) && existsSync(prepMarker)) return rootfs;
  log(`building the lab base root for ${os} (debootstrap, once; cached afterwards)`);
  // The machine's bookworm mirror serves every Debian release.
  const mirror = debianMirror();
  const script = `
    mkdir -p ${shQuote(dir)}
    cd ${shQuote(dir)}
    if [ ! -e debootstrap.done ]; then
      rm -rf rootfs rootfs.tmp
      debootstrap --variant=minbase --include=${INCLUDE} ${os} rootfs.tmp ${shQuote(mirror)} > debootstrap.log 2>&1 \\
        || { tail -20 debootstrap.log >&2; exit 1; }
      mv rootfs.tmp rootfs
      touch debootstrap.done
    fi
    if [ ! -e ${shQuote(prepMarker)} ]; then
      ${basePrepScript(rootfs)}
      rm -f prep-*.done
      touch ${shQuote(prepMarker)}
    fi
  `;
  await run('flock', [lock, 'bash', '-euo', 'pipefail', '-c', script], { timeoutMs: 30 * 60_000 }).catch((e) => {
    throw new LabError(`building the lab base root for ${os} failed: ${(e as Error).message}`);
  });
  return rootfs;
}

/**
 * Firewall managers a lab robot can have, each a cached package layer over the base root (ufw Breaks
 * iptables-persistent, so one layer each). Installed from Debian's packages with their maintainer
 * scripts, as on a real robot; iptables-persistent is told not to save the build machine's rules.
 */
const MANAGER_PACKAGES: Record<LabLayer, string> = {
  'iptables-persistent': 'iptables-persistent',
  nftables: 'nftables',
  ufw: 'ufw',
  firewalld: 'firewalld',
  busybox: 'busybox',
};
/** A package layer: a firewall manager, or busybox (a robot whose userland is busybox's applets). */
export type LabLayer = LabManager | 'busybox';
/** Bump when a layer's recipe changes. */
const LAYER_VERSION = 1;

/** Builds (once) and returns the cached layer (an overlay upper dir) holding a manager's packages. */
export async function ensureLayer(manager: LabLayer, log: Log): Promise<string> {
  const base = await ensureBase(log);
  const { dir } = basePaths();
  const ldir = join(dir, 'layers', `${manager}-${LAYER_VERSION}`);
  const upper = join(ldir, 'upper');
  if (existsSync(join(ldir, 'done'))) return upper;
  log(`building the lab layer for ${manager} (apt, once; cached afterwards)`);
  const L = shQuote(ldir);
  const script = `
    L=${L}
    [ -e "$L/done" ] && exit 0
    umount "$L/root" 2>/dev/null || true
    rm -rf "$L"; mkdir -p "$L/upper" "$L/work" "$L/root"
    mount -t overlay overlay -o lowerdir=${shQuote(base)},upperdir="$L/upper",workdir="$L/work" "$L/root"
    trap 'umount "$L/root" 2>/dev/null || true' EXIT
    cp /etc/resolv.conf "$L/root/etc/resolv.conf" 2>/dev/null || true
    printf 'iptables-persistent iptables-persistent/autosave_v4 boolean false\\niptables-persistent iptables-persistent/autosave_v6 boolean false\\n' > "$L/root/tmp/preseed"
    systemd-nspawn -q -D "$L/root" --register=no --keep-unit --resolv-conf=off --timezone=off sh -c '
      set -e
      debconf-set-selections /tmp/preseed
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${MANAGER_PACKAGES[manager]} >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
      apt-get clean; rm -rf /var/lib/apt/lists/* /tmp/preseed /tmp/apt.log
    ' > "$L/build.log" 2>&1 || { tail -20 "$L/build.log" >&2; exit 1; }
    umount "$L/root"; trap - EXIT
    rm -rf "$L/work" "$L/root"
    touch "$L/done"
  `;
  await run('flock', [join(BASE_CACHE, `layer-${manager}.lock`), 'bash', '-euo', 'pipefail', '-c', script], { timeoutMs: 30 * 60_000 }).catch((e) => {
    throw new LabError(`building the lab layer for ${manager} failed: ${(e as Error).message}`);
  });
  return upper;
}
