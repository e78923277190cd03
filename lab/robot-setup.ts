/**
 * The shell that prepares a lab robot's root before it boots (run on this machine, over the robot's
 * overlay root $M): its name, keys, login, sshd, firewall manager, userland, rc.local; and a light robot's
 * namespace, root and sshd.
 */
import { join } from 'node:path';
import { shQuote } from '../src/util/quote.js';
import { STOCK_RC_LOCAL, USER_RULES_V4 } from './robot-files.js';
import type { LabManager, RobotPlan } from './spec.js';
import type { LabRobotState } from './state.js';

/** A docker0-like bridge, up at every boot before sshd: the robot's second local address (172.17.0.1). */
const DOCKER0_SETUP = `cat > $M/etc/systemd/system/fleetmasq-lab-docker0.service <<'UNIT'
[Unit]
Description=fleetmasq lab: a docker0-like bridge (a second local address)
After=fleetmasq-lab-net.service
Before=ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip link add docker0 type bridge 2>/dev/null; ip addr replace 172.17.0.1/16 dev docker0; ip link set docker0 up'

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/fleetmasq-lab-docker0.service $M/etc/systemd/system/multi-user.target.wants/fleetmasq-lab-docker0.service`;

/**
 * Each manager configured as its users do (the packages' own units are enabled by their postinst):
 * iptables-persistent with a rules.v4 that has a nat table; nftables.service enabled with Debian's
 * default conf (\`flush ruleset\`); ufw enabled with its built-in chains managed (incoming allowed, so the
 * lab still reaches sshd); firewalld as installed (nftables backend, uplink in the default zone).
 */
const MANAGER_SETUP: Record<LabManager, string> = {
  'iptables-persistent': `mkdir -p $M/etc/iptables && cat > $M/etc/iptables/rules.v4 <<'RULES'\n${USER_RULES_V4}RULES\nchmod 0640 $M/etc/iptables/rules.v4`,
  nftables: `mkdir -p $M/etc/systemd/system/sysinit.target.wants && ln -sf /lib/systemd/system/nftables.service $M/etc/systemd/system/sysinit.target.wants/nftables.service`,
  ufw: `sed -i 's/^ENABLED=.*/ENABLED=yes/' $M/etc/ufw/ufw.conf
sed -i -e 's/^MANAGE_BUILTINS=.*/MANAGE_BUILTINS=yes/' -e 's/^DEFAULT_INPUT_POLICY=.*/DEFAULT_INPUT_POLICY="ACCEPT"/' $M/etc/default/ufw`,
  firewalld: `true`,
};

/**
 * A busybox userland: every applet linked in /usr/local/bin, ahead of Debian's tools on root's PATH (and
 * on fleetmasq's), as on Yocto or Buildroot images. The lab's own uplink script keeps Debian's ip.
 */
const BUSYBOX_SETUP = `chroot $M /bin/busybox --install -s /usr/local/bin
mkdir -p $M/etc/systemd/system/fleetmasq-lab-net.service.d
printf '[Service]\\nEnvironment=PATH=/usr/sbin:/usr/bin:/sbin:/bin\\n' > $M/etc/systemd/system/fleetmasq-lab-net.service.d/path.conf`;

export function robotPrepScript(r: LabRobotState, root: string, pubKey: string, bastion?: string): string {
  const M = shQuote(root);
  const lines: string[] = [
    `M=${M}`,
    `echo ${shQuote(r.name)} > $M/etc/hostname`,
    `printf '127.0.0.1 localhost\\n127.0.1.1 %s\\n' ${shQuote(r.name)} > $M/etc/hosts`,
    `mkdir -p $M/root/.ssh && chmod 700 $M/root/.ssh`,
    `printf '%s\\n' ${shQuote(pubKey)} > $M/root/.ssh/authorized_keys && chmod 600 $M/root/.ssh/authorized_keys`,
    `printf 'IFACE=%s\\nADDR=%s\\nGW=10.77.0.1\\nEXTRA="%s"\\n' ${shQuote(r.interface)} ${shQuote(r.address)} ${shQuote(
      r.extraInterfaces.map((e) => `${e.name}:${e.metric}`).join(' '),
    )} > $M/etc/fleetmasq-lab/net.env`,
  ];
  const sshd: string[] = [];
  if (r.login === 'root') sshd.push('PermitRootLogin prohibit-password');
  else {
    sshd.push('PermitRootLogin no');
    lines.push(
      `printf '%s\\n' ${shQuote(pubKey)} > $M/home/robot/.ssh/authorized_keys`,
      `chroot $M chown -R robot:robot /home/robot/.ssh`,
      `chmod 700 $M/home/robot/.ssh && chmod 600 $M/home/robot/.ssh/authorized_keys`,
    );
    if (r.login === 'sudo') lines.push(`echo 'robot ALL=(ALL) NOPASSWD:ALL' > $M/etc/sudoers.d/robot`);
    else lines.push(`echo 'robot ALL=(ALL) ALL' > $M/etc/sudoers.d/robot`, `chroot $M chpasswd`);
    lines.push(`chmod 440 $M/etc/sudoers.d/robot`);
  }
  if (bastion) sshd.push(`AllowUsers *@${bastion}`);
  lines.push(`printf '%s\\n' ${sshd.map(shQuote).join(' ')} > $M/etc/ssh/sshd_config.d/10-robot.conf`);
  if (r.iptables === 'legacy') {
    lines.push(
      `chroot $M update-alternatives --quiet --set iptables /usr/sbin/iptables-legacy`,
      `chroot $M update-alternatives --quiet --set ip6tables /usr/sbin/ip6tables-legacy`,
    );
  }
  if (r.manager) lines.push(MANAGER_SETUP[r.manager]);
  if (r.userland === 'busybox') lines.push(BUSYBOX_SETUP);
  // As Debian minimal images that ship nftables alone.
  if (r.iptables === 'none') lines.push(`rm -f $M/usr/sbin/iptables* $M/usr/sbin/ip6tables* $M/usr/sbin/xtables* $M/sbin/iptables* $M/sbin/ip6tables* $M/sbin/xtables*`);
  if (r.secondAddress) lines.push(DOCKER0_SETUP);
  if (r.rcLocal === 'exit0') lines.push(`cat > $M/etc/rc.local <<'RCLOCAL'\n${STOCK_RC_LOCAL}RCLOCAL`, `chmod 0755 $M/etc/rc.local`);
  return lines.join('\n');
}

/**
 * A light robot in one shell script (one process from the CLI per robot): its overlay root with /proc,
 * sshd's privilege-separation directory, its own host key and no PAM; its network namespace with the
 * uplink (a veth whose other end is in the lab's namespace with a route to the robot's address), address
 * and default route; then its sshd, chrooted into the root inside the namespace (it daemonizes).
 */
export function lightSetupScript(r: RobotPlan, d: string, lower: string, netns: string, labNetns: string): string {
  const D = shQuote(d);
  // The lab side of the uplink: <= 15 characters (machine names are <= 11, without their '-').
  const peer = `fl${r.machine.replace('-', '')}`;
  // Fixed addresses and permanent neighbours on both ends: with hundreds of robots busy on 2 cores, ARP
  // answers came late and connections failed with EHOSTUNREACH (seen at 1,000 robots).
  const mac = (kind: number) => `02:${kind.toString(16).padStart(2, '0')}:${[24, 16, 8, 0].map((b) => ((r.index >>> b) & 255).toString(16).padStart(2, '0')).join(':')}`;
  const robotMac = mac(0x4d);
  const peerMac = mac(0x4c);
  return `set -e
D=${D}
mkdir -p $D/upper $D/work $D/root
mount -t overlay overlay -o lowerdir=${shQuote(lower)},upperdir=$D/upper,workdir=$D/work $D/root
mount -t proc proc $D/root/proc
mkdir -p $D/root/run/sshd
rm -f $D/root/etc/resolv.conf && echo 'nameserver 127.0.0.1' > $D/root/etc/resolv.conf
rm -f $D/ssh_host_ed25519_key $D/ssh_host_ed25519_key.pub
ssh-keygen -q -t ed25519 -N '' -C ${shQuote(r.name)} -f $D/ssh_host_ed25519_key
install -m 600 $D/ssh_host_ed25519_key $D/root/etc/ssh/ssh_host_ed25519_key
install -m 644 $D/ssh_host_ed25519_key.pub $D/root/etc/ssh/ssh_host_ed25519_key.pub
echo 'UsePAM no' > $D/root/etc/ssh/sshd_config.d/05-light.conf
# Without PAM, sshd refuses a locked account ('!' in shadow) even to a key: no password, not locked.
sed -i 's/^robot:!:/robot:*:/' $D/root/etc/shadow
ip netns add ${netns}
ip -n ${labNetns} link add ${peer} address ${peerMac} type veth peer name ${r.interface} address ${robotMac} netns ${netns}
ip -n ${labNetns} -b - <<LAB
link set ${peer} up
route add ${r.address}/32 dev ${peer}
neigh replace ${r.address} lladdr ${robotMac} dev ${peer} nud permanent
LAB
ip -n ${netns} -b - <<NET
link set lo up
addr add ${r.address}/16 dev ${r.interface}
link set ${r.interface} up
route add default via 10.77.0.1 dev ${r.interface}
neigh replace 10.77.0.1 lladdr ${peerMac} dev ${r.interface} nud permanent
NET`;
}

/** Starts a light robot's sshd (after its prep script wrote the sshd config). */
export function lightSshdScript(d: string, netns: string): string {
  return `nsenter --net=/run/netns/${netns} chroot ${shQuote(join(d, 'root'))} /usr/sbin/sshd`;
}
