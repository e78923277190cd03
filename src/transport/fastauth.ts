/**
 * Public-key authentication in one round trip instead of two.
 *
 * ssh2 (like OpenSSH's client) first asks the server whether it would accept a key (an unsigned
 * USERAUTH_REQUEST, answered by PK_OK) and only then sends the signed request. RFC 4252 §7 lets a
 * client send the signed request straight away; when it holds the private key that costs it one
 * signature (microseconds) and saves one round trip per login — 100–300 ms on a cellular link.
 *
 * ssh2 has no option for it, so this wraps its Protocol.authPK: a query for a key whose private half
 * we hold becomes the signed request. The server answers SUCCESS or FAILURE, both of which ssh2's
 * client already handles for a signed request (a failure moves on to the next key/method exactly
 * as before). Agent keys (no private half here) keep the query, so the agent is asked to sign only
 * for a key the server accepts.
 *
 * If a future ssh2 changes this internal, install() reports false and logins keep working with the
 * extra round trip; a test pins that the fast path is active with the locked ssh2.
 */
// A static import (not createRequire at run time): a bundle (the start-up snapshot) then holds the one
// Protocol that ssh2's Client uses, and the wrappers below patch that one.
import ProtocolModule from 'ssh2/lib/protocol/Protocol.js';

interface ParsedKey {
  isPrivateKey?: () => boolean;
  sign?: (data: Buffer, hash?: string) => Buffer | Error;
}
type SignCb = (data: Buffer, done: (sig: Buffer) => void) => void;
type AuthPK = (this: { _server?: boolean }, user: string, key: ParsedKey, keyAlgo?: string | SignCb, cbSign?: SignCb) => void;

/** The hash a signature algorithm uses (ssh2's own pairing for RSA; other key types imply theirs). */
export function hashForKeyAlgo(keyAlgo: string | undefined): string | undefined {
  switch (keyAlgo) {
    case 'rsa-sha2-256':
      return 'sha256';
    case 'rsa-sha2-512':
      return 'sha512';
    case 'ssh-rsa':
      return 'sha1';
    default:
      return undefined;
  }
}

const MARK = Symbol.for('fleetmasq.fastauth');
let installed: boolean | undefined;

/** Installs the one-round-trip public-key login (idempotent). Returns whether it is active. */
export function installFastPublicKeyAuth(): boolean {
  if (installed !== undefined) return installed;
  try {
    const Protocol = ProtocolModule as { prototype: { authPK?: AuthPK & { [MARK]?: true } } };
    const orig = Protocol?.prototype?.authPK;
    if (typeof orig !== 'function' || orig.length !== 4) return (installed = false);
    if (orig[MARK]) return (installed = true);
    const wrapped: AuthPK & { [MARK]?: true } = function (this, user, key, keyAlgo, cbSign) {
      const direct =
        !this._server &&
        cbSign === undefined &&
        typeof keyAlgo !== 'function' &&
        typeof key?.sign === 'function' &&
        typeof key.isPrivateKey === 'function' &&
        key.isPrivateKey();
      if (!direct) return orig.call(this, user, key, keyAlgo, cbSign);
      const hash = hashForKeyAlgo(keyAlgo);
      return orig.call(this, user, key, keyAlgo, (data, done) => {
        const sig = key.sign!(data, hash);
        // A key that cannot sign here cannot sign after PK_OK either; ssh2 reports it the same way.
        if (sig instanceof Error) throw sig;
        done(sig);
      });
    };
    wrapped[MARK] = true;
    Protocol.prototype.authPK = wrapped;
    return (installed = true);
  } catch {
    return (installed = false);
  }
}

type ServiceAcceptHandler = (p: unknown, name: string) => void;
interface ClientProtocol {
  _server?: boolean;
  _destruct?: unknown;
  _handlers?: { SERVICE_ACCEPT?: ServiceAcceptHandler };
}
type Service = ((this: ClientProtocol, name: string) => void) & { [MARK]?: true };

/**
 * The login's first request in the same flight as the service request: one round trip less per login.
 *
 * After the key exchange ssh2 sends SERVICE_REQUEST ("ssh-userauth") and waits for SERVICE_ACCEPT
 * before its first USERAUTH_REQUEST. A server takes packets in order: OpenSSH's sshd handles the
 * service request, then finds the authentication request already waiting. So this wraps
 * Protocol.service: once the service request is sent, ssh2's own SERVICE_ACCEPT handler runs at once
 * (which starts authentication exactly as the real answer would), and the real answer, when it comes,
 * is swallowed. It runs on the next turn of the event loop, so an EXT_INFO (server-sig-algs) that came
 * in the same read as the server's NEWKEYS is seen first. A server that refuses the service disconnects,
 * which ssh2 reports as before.
 *
 * Returns whether it is active (false if a future ssh2 changed this internal: logins then keep the
 * extra round trip). A test pins that it is active with the locked ssh2.
 */
export function installPipelinedUserauth(): boolean {
  try {
    const Protocol = ProtocolModule as { prototype: { service?: Service } };
    const orig = Protocol?.prototype?.service;
    if (typeof orig !== 'function' || orig.length !== 1) return false;
    if (orig[MARK]) return true;
    const wrapped: Service = function (this, name) {
      orig.call(this, name);
      const handlers = this._handlers;
      const accept = handlers?.SERVICE_ACCEPT;
      if (this._server || name !== 'ssh-userauth' || !handlers || typeof accept !== 'function') return;
      let state: 'pending' | 'early' | 'real' = 'pending';
      handlers.SERVICE_ACCEPT = (p, n) => {
        if (n === 'ssh-userauth' && state === 'early') {
          state = 'real';
          return;
        }
        if (n === 'ssh-userauth') state = 'real';
        accept(p, n);
      };
      setImmediate(() => {
        // Gone meanwhile (ssh2 clears _destruct once it has torn the protocol down): nothing to send.
        if (state !== 'pending' || typeof this._destruct !== 'function') return;
        state = 'early';
        accept(this, 'ssh-userauth');
      });
    };
    wrapped[MARK] = true;
    Protocol.prototype.service = wrapped;
    return true;
  } catch {
    return false;
  }
}
