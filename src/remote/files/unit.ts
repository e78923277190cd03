/** fleetmasq's systemd unit, as written on robots. Ordered before network-pre.target; writes the boot marker. */
import type { RuleBackend } from '../../modules/rule.js';
import { UNIT_NAME } from '../paths.js';
import { ensureRuleSh, nftBatch, specIn } from '../rule.js';
import { bootMarkerSh } from '../script.js';

export function renderUnit(iface: string, backend: RuleBackend = 'iptables'): string {
  // nftables: nft's own command line, no shell (the batch holds no $, % or quotes systemd would read).
  const rule = backend === 'nft' ? `nft '${nftBatch(iface)}'` : `/bin/sh -c '${ensureRuleSh(iface, { systemd: true })}'`;
  return `# Managed by fleetmasq (${UNIT_NAME}): NAT masquerade on ${iface}, so WebRTC survives cellular hotspots.
# 'fleetmasq remove' disables and deletes it.
[Unit]
Description=fleetmasq NAT masquerade on ${iface}
DefaultDependencies=no
After=systemd-modules-load.service local-fs.target
# After the firewall managers that replace or flush the nat table at boot (no effect when absent).
After=netfilter-persistent.service nftables.service ufw.service firewalld.service
Wants=network-pre.target
Before=network-pre.target shutdown.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${rule}
ExecStart=/bin/sh -c '${bootMarkerSh('systemd', iface).replace(/\$/g, '$$$$')}'

[Install]
WantedBy=multi-user.target
`;
}

export function unitInterface(unit: string): string | undefined {
  return specIn(unit);
}
