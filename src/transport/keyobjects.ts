/**
 * Signatures and their checks with keys decoded once (issue 28: control CPU per robot).
 *
 * ssh2 1.17.0 keeps a parsed key as PEM text and hands that text to node's crypto.sign and
 * crypto.verify on every call, so OpenSSL decodes the PEM each time. With OpenSSL 3 that decoding costs
 * ten times the signature itself: an ed25519 login signature took 0.58 ms with the PEM and 0.05 ms with
 * a KeyObject, checking the robot's host-key signature 0.26 ms against 0.18 ms from the raw key
 * (node 20 here). The fleet's identity key signs one login per robot, so its KeyObject is made once per
 * run; each robot's ed25519 host key is read from its raw 32 bytes instead of a PEM.
 *
 * This wraps the two methods of ssh2's key prototype (shared by every parsed key). The wrappers do what
 * ssh2's own do (same algorithm default, errors returned, not thrown) with the key in another form;
 * a key they do not know (no PEM text, another host-key type) goes to ssh2's own method. If a future
 * ssh2 changes these internals, installKeyObjects() reports false and nothing changes; a test pins
 * that it is active with the locked ssh2 and that signatures verify both ways.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import ssh2 from 'ssh2';

type SignFn = (this: ParsedKey, data: Buffer, algo?: string) => Buffer | Error;
type VerifyFn = (this: ParsedKey, data: Buffer, signature: Buffer, algo?: string) => boolean | Error;
interface ParsedKey {
  type?: string;
  getPublicSSH?: () => Buffer;
  [k: symbol]: unknown;
}
interface KeyProto {
  sign?: SignFn & { [MARK]?: true };
  verify?: VerifyFn & { [MARK]?: true };
}

const MARK = Symbol.for('fleetmasq.keyobjects');
/** Any well-formed ed25519 public key: parsed once to reach ssh2's shared key prototype and its symbols. */
const PROBE = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFdyTBC1uQ5r3n9tkccT6IyVxVIVfSG/buw428xOB1Jx';

/** A parsed key's KeyObject, made from its PEM text on first use (the text never changes). */
const privateKeys = new WeakMap<object, { pem: string; key: KeyObject }>();

let installed: boolean | undefined;

/** Installs the wrappers (idempotent). Returns whether they are active. */
export function installKeyObjects(): boolean {
  if (installed !== undefined) return installed;
  try {
    const probe: unknown = ssh2.utils.parseKey(PROBE);
    if (!probe || probe instanceof Error || typeof probe !== 'object') return (installed = false);
    const proto = Object.getPrototypeOf(probe) as KeyProto;
    const symbol = (name: string) => Object.getOwnPropertySymbols(probe).find((s) => s.description === name);
    const PRIV_PEM = symbol('Private key PEM');
    const HASH_ALGO = symbol('Hash Algorithm');
    const origSign = proto.sign;
    const origVerify = proto.verify;
    if (!PRIV_PEM || !HASH_ALGO || typeof origSign !== 'function' || typeof origVerify !== 'function') return (installed = false);
    if (origSign[MARK]) return (installed = true);

    const wrappedSign: SignFn & { [MARK]?: true } = function (this, data, algo) {
      const pem = this[PRIV_PEM];
      if (typeof pem !== 'string') return origSign.call(this, data, algo);
      let cached = privateKeys.get(this);
      try {
        if (cached?.pem !== pem) privateKeys.set(this, (cached = { pem, key: createPrivateKey(pem) }));
        const hash = algo && typeof algo === 'string' ? algo : (this[HASH_ALGO] as string | null | undefined);
        return sign(hash ?? null, data, cached.key);
      } catch (e) {
        return e as Error;
      }
    };
    const wrappedVerify: VerifyFn & { [MARK]?: true } = function (this, data, signature, algo) {
      // An ed25519 key with a hash named (a server claiming rsa-sha2-256 with an ed25519 key) is refused
      // by ssh2's own method: it gets that answer.
      const raw = this.type === 'ssh-ed25519' && (!algo || typeof algo !== 'string') ? ed25519Raw(this.getPublicSSH?.()) : undefined;
      if (!raw) return origVerify.call(this, data, signature, algo);
      try {
        const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
        return verify(null, data, key, signature);
      } catch (e) {
        return e as Error;
      }
    };
    wrappedSign[MARK] = true;
    wrappedVerify[MARK] = true;
    proto.sign = wrappedSign;
    proto.verify = wrappedVerify;
    return (installed = true);
  } catch {
    return (installed = false);
  }
}

/** The 32 key bytes of an ed25519 public key in SSH wire form (string "ssh-ed25519", string key), or undefined. */
export function ed25519Raw(wire: Buffer | undefined): Buffer | undefined {
  if (!Buffer.isBuffer(wire) || wire.length !== 4 + 11 + 4 + 32) return undefined;
  if (wire.readUInt32BE(0) !== 11 || wire.toString('latin1', 4, 15) !== 'ssh-ed25519' || wire.readUInt32BE(15) !== 32) return undefined;
  return wire.subarray(19);
}
