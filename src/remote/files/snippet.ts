/**
 * The entry-point fragment for robots whose stack owns the rule (masquerade_persistence: external): the
 * field note's advice for Docker is to put the command in the container's entry point. Pure POSIX sh,
 * idempotent (the rule once per interface however often the container restarts), and it never fails
 * the entry point it sits in (even under `set -e`): it says on stderr what it could not do.
 */
import { ifaceList, ruleArgs } from '../../modules/rule.js';

export function entrypointSnippet(spec: string): string {
  const auto = spec === 'auto';
  const head = `# fleetmasq entry-point fragment: NAT masquerade on the robot's uplink, so WebRTC survives cellular
# hotspots that reset their NAT (Verizon MiFi/Jetpack 7730L, 8800L). Idempotent; never fails the entry point.
# Needs: the container on the host's network (docker run --network host) with NET_ADMIN
# (--cap-add NET_ADMIN), and iptables in the image. Then set masquerade_persistence: external in the
# inventory: \`fleetmasq check\` verifies the live rule and leaves persistence to this entry point.
`;
  const add = (iface: string) =>
    `iptables -w -t nat -C ${ruleArgs(iface)} 2>/dev/null || iptables -w -t nat -A ${ruleArgs(iface)} 2>/dev/null || echo "fleetmasq: could not add the masquerade rule on ${iface} (NET_ADMIN? host network? iptables?)" >&2`;
  if (!auto) return head + ifaceList(spec).map(add).join('\n') + '\n';
  return `${head}# The uplink: the interface of the default route with the lowest metric. In a subshell, so that
# \`set --\`, IFS and \`set -f\` leave the entry point's own arguments ("$@"), IFS and options alone; the
# route's words are split on blanks only and never globbed, whatever the entry point set.
fm_masq() (
  IFS=' 	'
  set -f
  fm_if= fm_best=
  while read -r fm_l; do
    set -- $fm_l
    fm_dev= fm_m=0
    while [ $# -gt 0 ]; do
      case "$1" in dev) fm_dev=\${2-}; [ $# -gt 1 ] && shift ;; metric) fm_m=\${2-}; [ $# -gt 1 ] && shift ;; esac
      shift
    done
    case "$fm_m" in '' | *[!0-9]*) fm_m=0 ;; esac
    if [ -n "$fm_dev" ] && { [ -z "$fm_best" ] || [ "$fm_m" -lt "$fm_best" ]; }; then fm_if=$fm_dev fm_best=$fm_m; fi
  done <<EOF_FM
$(ip -4 route show default 2>/dev/null)
EOF_FM
  if [ -z "$fm_if" ]; then echo "fleetmasq: no default route, so no uplink to masquerade on" >&2; exit 0; fi
  # A name fleetmasq accepts anywhere, or nothing is run with it.
  case "$fm_if" in
    *[!A-Za-z0-9_.-]* | [!A-Za-z0-9]* | ????????????????*) echo "fleetmasq: the default route's interface is not a name fleetmasq accepts: no rule added" >&2; exit 0 ;;
  esac
  iptables -w -t nat -C POSTROUTING -o "$fm_if" -j MASQUERADE 2>/dev/null || iptables -w -t nat -A POSTROUTING -o "$fm_if" -j MASQUERADE 2>/dev/null || echo "fleetmasq: could not add the masquerade rule on $fm_if (NET_ADMIN? host network? iptables?)" >&2
  exit 0
)
fm_masq || :
unset -f fm_masq
`;
}
