/** A robot's facts for pure tests: a systemd robot with wlan0 as its uplink, iptables-nft, nothing of fleetmasq's yet. */
import type { Facts } from '../../src/facts/facts.js';

export const BOOT = '4f1c2a3b-1111-2222-3333-444455556666';

export function factsWith(over: Partial<Facts> = {}): Facts {
  return {
    bootId: BOOT,
    systemd: true,
    uid: 0,
    backend: 'nft',
    iptablesVersion: 'iptables v1.8.9 (nf_tables)',
    rules: [],
    routes: [{ dev: 'wlan0', metric: 100, via: '10.0.0.1' }],
    links: [{ name: 'lo', up: true, lowerUp: true }, { name: 'wlan0', up: true, lowerUp: true }],
    managers: { others: [] },
    ...over,
  };
}
