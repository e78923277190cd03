/**
 * The per-robot supervisor: a small bash loop that keeps one robot powered. `systemctl reboot` inside
 * makes systemd-nspawn exit with 133: that is a reboot, so it boots the robot again (new boot_id, fresh
 * network namespace, live iptables rules gone). Any other exit is a power-off. SIGTERM powers the robot
 * off cleanly. A robot spec'd with on_reboot=poweroff stays off after a reboot (a robot that never
 * comes back).
 */
export const SUPERVISOR_SCRIPT = `#!/bin/bash
# usage: supervise.sh LAB NAME MACHINE ROOT NETNS BRIDGE STATEFILE ONREBOOT CGPARENT [VOLATILE]
# VOLATILE: systemd-nspawn's --volatile mode (overlay: every change is lost at boot; default no).
set -u
LAB=$1 NAME=$2 MACHINE=$3 ROOT=$4 NETNS=$5 BRIDGE=$6 STATE=$7 ONREBOOT=$8 CGPARENT=$9 VOLATILE=\${10:-no}
for h in systemd unified; do
  d=/sys/fs/cgroup/$h/$CGPARENT/$LAB/$NAME
  if [ -d /sys/fs/cgroup/$h ]; then mkdir -p "$d" && echo $$ > "$d/cgroup.procs"; fi
done
child=
stopping=0
trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
boots=0
while :; do
  nsenter --net=/run/netns/$NETNS ip link del "vb-$MACHINE" 2>/dev/null
  boots=$((boots+1))
  echo "running $boots $(date +%s)" > "$STATE"
  nsenter --net=/run/netns/$NETNS systemd-nspawn -q -D "$ROOT" --boot --register=no --keep-unit \\
    --network-bridge="$BRIDGE" -M "$MACHINE" --console=read-only --link-journal=no \\
    --resolv-conf=off --timezone=off --volatile="$VOLATILE" &
  child=$!
  rc=0
  wait "$child"; rc=$?
  while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
  child=
  if [ "$stopping" = 1 ]; then echo "off stopped $(date +%s)" > "$STATE"; exit 0; fi
  if [ "$rc" = 133 ] && [ "$ONREBOOT" = reboot ]; then continue; fi
  echo "off exit=$rc $(date +%s)" > "$STATE"
  exit 0
done
`;
