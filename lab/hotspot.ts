/**
 * The lab's hotspot model: a model of the REPORTED behaviour of some cellular hotspots (Verizon
 * MiFi/Jetpack 7730L, 8800L), not of their firmware. Each hotspot NATs its LAN to one public address
 * and answers STUN Binding requests with the public address and port a flow was given (it holds the
 * lab "internet"'s STUN server). Its defect: when a datagram reaches it from a source address outside
 * its LAN — what a robot without masquerading sends when WebRTC uses its other local addresses (docker0,
 * a robot LAN) — it renews its public address with probability p (seedable) and drops every live flow
 * (their mappings). Such a datagram gets no answer (the hotspot cannot route back to that address).
 * A healthy uplink is the same model with p = 0.
 */
import { bindingSuccess, decode, BINDING_REQUEST } from '../src/diagnose/stun.js';

export interface HotspotConfig {
  name: string;
  /** Its LAN, as a.b.c.d/len: sources outside it trigger the defect. */
  lan: string;
  /** Probability of renewing the public address on a foreign source (0: a healthy uplink). */
  p: number;
  seed: number;
  /** The first public address (203.0.113.x); renewals take the next ones. */
  firstPublic: number;
}

/** A small seedable PRNG (mulberry32): the same seed gives the same renewals. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inCidr(address: string, cidr: string): boolean {
  const [net, len] = cidr.split('/') as [string, string];
  const n = (a: string) => a.split('.').reduce((x, o) => (x << 8) + Number(o), 0) >>> 0;
  const bits = Number(len);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return ((n(address) & mask) >>> 0) === ((n(net) & mask) >>> 0);
}

export interface HotspotEvent {
  at: string;
  hotspot: string;
  kind: 'renewed' | 'foreign-ignored';
  from: string;
  publicAddress: string;
}

export class HotspotModel {
  private publicIndex: number;
  private readonly mappings = new Map<string, number>();
  private nextPort = 40000;
  private readonly random: () => number;
  constructor(
    private readonly cfg: HotspotConfig,
    private readonly onEvent: (e: HotspotEvent) => void = () => {},
  ) {
    this.publicIndex = cfg.firstPublic;
    this.random = rng(cfg.seed);
  }

  get publicAddress(): string {
    return `203.0.113.${this.publicIndex}`;
  }

  /** The reply to a datagram from `src`, if any. */
  receive(msg: Buffer, src: { address: string; port: number }): Buffer | undefined {
    if (!inCidr(src.address, this.cfg.lan)) {
      if (this.random() < this.cfg.p) {
        this.publicIndex = this.publicIndex >= 254 ? 1 : this.publicIndex + 1;
        this.mappings.clear();
        this.onEvent({ at: new Date().toISOString(), hotspot: this.cfg.name, kind: 'renewed', from: src.address, publicAddress: this.publicAddress });
      } else this.onEvent({ at: new Date().toISOString(), hotspot: this.cfg.name, kind: 'foreign-ignored', from: src.address, publicAddress: this.publicAddress });
      return undefined;
    }
    const req = decode(msg);
    if (!req || req.type !== BINDING_REQUEST) return undefined;
    const key = `${src.address}:${src.port}`;
    let port = this.mappings.get(key);
    if (port === undefined) {
      port = this.nextPort;
      this.nextPort = this.nextPort >= 65000 ? 40000 : this.nextPort + 1;
      this.mappings.set(key, port);
    }
    return bindingSuccess(req.transactionId, { address: this.publicAddress, port });
  }
}
