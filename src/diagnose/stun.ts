/**
 * STUN (RFC 5389) Binding messages: what the lab's hotspot model answers, and what the tests decode.
 * Written here (~100 lines): the npm `stun` package is unmaintained since 2019 and pulls `ip@1` and
 * `parse-url@5`, both with published advisories; a Binding request/response is all that is needed.
 * The robot side speaks the same protocol from Python (src/remote/diagnose.ts).
 */
import { randomBytes } from 'node:crypto';

export const MAGIC_COOKIE = 0x2112a442;
export const BINDING_REQUEST = 0x0001;
export const BINDING_SUCCESS = 0x0101;
const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
const ATTR_SOFTWARE = 0x8022;

export interface StunMessage {
  type: number;
  transactionId: Buffer;
  /** Decoded (X)MAPPED-ADDRESS, when present (IPv4 only). */
  mapped?: { address: string; port: number };
}

export function bindingRequest(transactionId: Buffer = randomBytes(12)): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(BINDING_REQUEST, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(b, 8);
  return b;
}

function attr(type: number, value: Buffer): Buffer {
  const pad = (4 - (value.length % 4)) % 4;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value, Buffer.alloc(pad)]);
}

function ipv4(address: string): Buffer {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) throw new Error(`not an IPv4 address: ${address}`);
  return Buffer.from(parts);
}

/** A Binding success response carrying XOR-MAPPED-ADDRESS (and MAPPED-ADDRESS, for old clients). */
export function bindingSuccess(transactionId: Buffer, mapped: { address: string; port: number }, software = 'fleetmasq-lab'): Buffer {
  const xport = mapped.port ^ (MAGIC_COOKIE >>> 16);
  const ip = ipv4(mapped.address);
  const xip = Buffer.alloc(4);
  xip.writeUInt32BE((ip.readUInt32BE(0) ^ MAGIC_COOKIE) >>> 0, 0);
  const xv = Buffer.alloc(8);
  xv.writeUInt8(0, 0);
  xv.writeUInt8(0x01, 1);
  xv.writeUInt16BE(xport, 2);
  xip.copy(xv, 4);
  const mv = Buffer.alloc(8);
  mv.writeUInt8(0x01, 1);
  mv.writeUInt16BE(mapped.port, 2);
  ip.copy(mv, 4);
  const body = Buffer.concat([attr(ATTR_XOR_MAPPED_ADDRESS, xv), attr(ATTR_MAPPED_ADDRESS, mv), attr(ATTR_SOFTWARE, Buffer.from(software))]);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(BINDING_SUCCESS, 0);
  h.writeUInt16BE(body.length, 2);
  h.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(h, 8);
  return Buffer.concat([h, body]);
}

/** A STUN message, or undefined for anything else (wrong cookie, truncated, top bits set). */
export function decode(b: Buffer): StunMessage | undefined {
  if (b.length < 20 || (b[0]! & 0xc0) !== 0) return undefined;
  const len = b.readUInt16BE(2);
  if (b.readUInt32BE(4) !== MAGIC_COOKIE || len % 4 !== 0 || 20 + len > b.length) return undefined;
  const msg: StunMessage = { type: b.readUInt16BE(0), transactionId: Buffer.from(b.subarray(8, 20)) };
  let xor: StunMessage['mapped'];
  let plain: StunMessage['mapped'];
  for (let i = 20; i + 4 <= 20 + len; ) {
    const t = b.readUInt16BE(i);
    const l = b.readUInt16BE(i + 2);
    const v = b.subarray(i + 4, i + 4 + l);
    if (v.length === 8 && v[1] === 0x01) {
      if (t === ATTR_XOR_MAPPED_ADDRESS) {
        const ip = (v.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0;
        xor = { address: [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.'), port: v.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16) };
      } else if (t === ATTR_MAPPED_ADDRESS) plain = { address: [...v.subarray(4, 8)].join('.'), port: v.readUInt16BE(2) };
    }
    i += 4 + l + ((4 - (l % 4)) % 4);
  }
  const mapped = xor ?? plain;
  return mapped ? { ...msg, mapped } : msg;
}
