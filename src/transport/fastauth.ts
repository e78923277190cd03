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
import { generateKeyPairSync, randomFillSync } from 'node:crypto';
import ProtocolModule from 'ssh2/lib/protocol/Protocol.js';
import KexModule from 'ssh2/lib/protocol/kex.js';

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

/** The parts of ssh2's client Protocol that the guessed key exchange uses (ssh2 1.17.0). */
interface KexOffer {
  totalSize: number;
  copyAllTo: (buf: Buffer, offset: number) => void;
  lists: { kex: { array: string[] }; serverHostKey: { array: string[] } };
}
interface KexCipher {
  allocPacket: (payloadSize: number) => Buffer;
  encrypt: (packet: Buffer) => void;
}
interface KeyExchange {
  type?: string;
  negotiated?: { kex?: string };
  _keys?: unknown;
  getPublicKey?: () => Buffer;
  _remoteKexinit?: Buffer;
  start?: () => void;
}
interface GuessingProtocol {
  _server?: boolean;
  _destruct?: unknown;
  _offer?: KexOffer;
  _packetRW?: { write: { allocStart: number; allocStartKEX: number; alloc: (n: number, force: boolean) => Buffer; finalize: (p: Buffer, force: boolean) => Buffer } };
  _cipher?: KexCipher;
  _kexinit?: Buffer;
  _kex?: KeyExchange;
  _remoteIdentRaw?: Buffer;
  _onHeader?: (...args: unknown[]) => void;
  _debug?: (msg: string) => void;
}

const MSG_KEXINIT = 20;
const MSG_KEX_ECDH_INIT = 30;
const GUESSABLE = new Set(['curve25519-sha256', 'curve25519-sha256@libssh.org']);

/** The first name of each of the first `count` name-lists of a KEXINIT payload (after type and cookie). */
export function kexinitFirstNames(payload: Buffer, count: number): string[] | undefined {
  const names: string[] = [];
  let p = 17;
  for (let i = 0; i < count; i++) {
    if (p + 4 > payload.length) return undefined;
    const len = payload.readUInt32BE(p);
    if (p + 4 + len > payload.length) return undefined;
    names.push(payload.toString('latin1', p + 4, p + 4 + len).split(',')[0]!);
    p += 4 + len;
  }
  return names;
}

/**
 * Whether the server takes the client's guessed key-exchange packet (RFC 4253 §7): the guess is right
 * when both sides list the same key exchange AND the same host key algorithm first; otherwise the
 * server ignores the packet. That is what OpenSSH (proposals_match) and dropbear do. ssh2's own server
 * (1.17.0) ignores every guessed packet: it compares the key exchange it picked with the first character
 * of the client's list (handleKexInit overwrites the parsed list before comparing).
 */
export function guessAccepted(opts: { serverKexinit: Buffer; serverIdent: string; ourKex: string; ourHostKey: string }): boolean {
  if (/^SSH-2\.0-ssh2js/.test(opts.serverIdent)) return false;
  const first = kexinitFirstNames(opts.serverKexinit, 2);
  return first !== undefined && first[0] === opts.ourKex && first[1] === opts.ourHostKey;
}

let guessInstalled: boolean | undefined;

/**
 * The key exchange in one round trip instead of two (RFC 4253 §7, first_kex_packet_follows).
 *
 * ssh2 sends its KEXINIT once it has read the server's identification, and its key-exchange packet
 * (KEX_ECDH_INIT) once it has read the server's KEXINIT: the server's reply comes two round trips after
 * the connection. A client may instead send, with its identification, its KEXINIT flagged
 * first_kex_packet_follows and the key-exchange packet of its first algorithm at once. A server whose
 * preferences start with the same key exchange and host key algorithm (curve25519-sha256 and, say,
 * ssh-ed25519: OpenSSH 7.4 to 8.9, or any sshd configured so) answers it straight away: one round trip.
 * Any other server ignores the guessed packet (the RFC says it must), and the key exchange then runs
 * as before, in the same two round trips: when the server's KEXINIT comes, ssh2 sends the packet of the
 * algorithm actually agreed.
 *
 * This wraps three internals of ssh2's client Protocol (pinned to ssh2 1.17.0, a test checks they
 * still apply): its start (ident, then the early KEXINIT and the guessed packet, whose x25519 key pair
 * is kept), its onHeader (ssh2's own KEXINIT after the server's ident is swallowed: one KEXINIT per side)
 * and its key-exchange slot (the exchange ssh2 creates gets the guessed key pair, and does not send its
 * packet again when the server took the guess). Only the first key exchange of a connection guesses.
 * Returns whether it is active.
 */
export function installGuessedKeyExchange(): boolean {
  if (guessInstalled !== undefined) return guessInstalled;
  try {
    const proto = (ProtocolModule as { prototype: object }).prototype;
    const own = Object.getOwnPropertyDescriptor(proto, 'start');
    if (own?.set && (own.set as { [MARK]?: true })[MARK]) return (guessInstalled = true);
    if (own !== undefined || typeof (KexModule as { kexinit?: unknown }).kexinit !== 'function') return (guessInstalled = false);
    const set = function (this: GuessingProtocol, start: unknown) {
      const value = typeof start === 'function' && !this._server ? guessingStart(this, start as () => void) : start;
      Object.defineProperty(this, 'start', { value, writable: true, configurable: true, enumerable: true });
    };
    (set as { [MARK]?: true })[MARK] = true;
    Object.defineProperty(proto, 'start', { set, get: () => undefined, configurable: true });
    return (guessInstalled = true);
  } catch {
    return (guessInstalled = false);
  }
}

function guessingStart(proto: GuessingProtocol, start: () => void): () => void {
  return () => {
    start();
    try {
      sendGuess(proto);
    } catch (e) {
      // Nothing was sent, or both packets were: either way ssh2 goes on consistently.
      proto._debug?.(`fleetmasq: no guessed key exchange (${e instanceof Error ? e.message : String(e)})`);
    }
  };
}

/** Sends the KEXINIT flagged first_kex_packet_follows and the guessed exchange packet, then arranges what ssh2 does next. */
function sendGuess(proto: GuessingProtocol): void {
  const offer = proto._offer;
  const w = proto._packetRW?.write;
  const cipher = proto._cipher;
  const ourKex = offer?.lists?.kex?.array?.[0];
  const ourHostKey = offer?.lists?.serverHostKey?.array?.[0];
  if (!offer || !w || !cipher || proto._kexinit !== undefined || !ourKex || !ourHostKey || !GUESSABLE.has(ourKex)) return;
  const keys = generateKeyPairSync('x25519');
  const pub = keys.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  proto._debug?.(`Outbound: Sending KEXINIT (first_kex_packet_follows: ${ourKex}, ${ourHostKey})`);
  const kexinit = guessingKexinit(offer);
  proto._kexinit = kexinit;
  w.allocStart = 0;
  sendPacket(w, cipher, kexinit);
  proto._debug?.('Outbound: Sending KEXECDH_INIT (guessed)');
  sendPacket(w, cipher, ecdhInit(pub));
  swallowNextKexinit(proto, kexinit);
  plantGuessedKeys(proto, { keys, pub, ourKex, ourHostKey });
}

/** KEXINIT's payload as ssh2 writes it (type, random cookie, the offer's name-lists), with first_kex_packet_follows set. */
function guessingKexinit(offer: KexOffer): Buffer {
  const payload = Buffer.alloc(1 + 16 + offer.totalSize + 1 + 4);
  offer.copyAllTo(payload, 17);
  payload[0] = MSG_KEXINIT;
  randomFillSync(payload, 1, 16);
  payload[payload.length - 5] = 1;
  return payload;
}

/** KEX_ECDH_INIT's payload: the client's ephemeral x25519 public key. */
function ecdhInit(pub: Buffer): Buffer {
  const payload = Buffer.alloc(1 + 4 + pub.length);
  payload[0] = MSG_KEX_ECDH_INIT;
  payload.writeUInt32BE(pub.length, 1);
  payload.set(pub, 5);
  return payload;
}

/** One payload through ssh2's packet writer and (before the first NEWKEYS, clear) cipher. */
function sendPacket(w: NonNullable<GuessingProtocol['_packetRW']>['write'], cipher: KexCipher, payload: Buffer): void {
  const packet = w.alloc(payload.length, true);
  packet.set(payload, w.allocStartKEX);
  cipher.encrypt(w.finalize(packet, true));
}

/**
 * ssh2 sends its own KEXINIT right after reading the server's ident: that one is swallowed (the one sent
 * with the guess stays the one hashed into the exchange).
 */
function swallowNextKexinit(proto: GuessingProtocol, kexinit: Buffer): void {
  const onHeader = proto._onHeader;
  proto._onHeader = (...args: unknown[]) => {
    proto._onHeader = onHeader;
    onHeader?.(...args);
    if (!proto._destruct) return;
    const real = proto._cipher!;
    proto._cipher = {
      allocPacket: (n) => real.allocPacket(n),
      encrypt: () => {
        proto._cipher = real;
        proto._kexinit = kexinit;
      },
    };
  };
}

/**
 * The key exchange ssh2 creates once it has the server's KEXINIT gets the guessed key pair (and its
 * exported public key: ssh2 exports it again at each use, up to three times a login), and does not send
 * its packet again when the server took the guess. Only that first exchange: the slot is a plain
 * property again as soon as it is set.
 */
function plantGuessedKeys(proto: GuessingProtocol, g: { keys: unknown; pub: Buffer; ourKex: string; ourHostKey: string }): void {
  let slot = proto._kex;
  Object.defineProperty(proto, '_kex', {
    configurable: true,
    enumerable: true,
    get: () => slot,
    set: (kex: KeyExchange | undefined) => {
      slot = kex;
      Object.defineProperty(proto, '_kex', { value: kex, writable: true, configurable: true, enumerable: true });
      const negotiatedKex = kex?.negotiated?.kex;
      if (!kex || kex.type !== '25519' || negotiatedKex !== g.ourKex || !kex._remoteKexinit) return;
      kex._keys = g.keys;
      kex.getPublicKey = () => g.pub;
      const accepted = guessAccepted({
        serverKexinit: kex._remoteKexinit,
        serverIdent: proto._remoteIdentRaw?.toString('latin1') ?? '',
        ourKex: g.ourKex,
        ourHostKey: g.ourHostKey,
      });
      proto._debug?.(`Handshake: guessed key exchange ${accepted ? 'taken by the server' : 'ignored by the server: sending it again'}`);
      if (accepted) kex.start = () => {};
    },
  });
}

type GlobalRequestHandler = (p: unknown, name: string, wantReply: boolean, data: unknown) => void;
let noHostKeysProof: boolean | undefined;

/**
 * No proof asked for the host keys a server announces after the login.
 *
 * OpenSSH's sshd sends every host key it has ("hostkeys-00@openssh.com") once the login is done, for
 * clients that update their known_hosts from it (OpenSSH's UpdateHostKeys). ssh2 answers by asking the
 * server to sign each of them and verifies every signature, to emit them as a 'hostkeys' event, which
 * fleetmasq never listens to: a signature per host key on the robot, their verification here, one more
 * packet each way. This wraps Protocol.service (as installPipelinedUserauth does, once a client's
 * handlers exist) so that announcement is left unanswered, as it was sent (OpenSSH asks no reply), as
 * an OpenSSH client with UpdateHostKeys off does. The host key that authenticated the server is checked
 * during the key exchange, as before; every other global request reaches ssh2's own handler.
 *
 * Returns whether it is active (false if a future ssh2 changed this internal: ssh2 then keeps asking).
 */
export function installNoHostKeysProof(): boolean {
  if (noHostKeysProof !== undefined) return noHostKeysProof;
  try {
    const Protocol = ProtocolModule as { prototype: { service?: Service } };
    const orig = Protocol?.prototype?.service;
    if (typeof orig !== 'function' || orig.length !== 1) return (noHostKeysProof = false);
    const wrapped: Service = function (this, name) {
      orig.call(this, name);
      const handlers = this._handlers as { GLOBAL_REQUEST?: GlobalRequestHandler } | undefined;
      const global = handlers?.GLOBAL_REQUEST;
      if (this._server || !handlers || typeof global !== 'function') return;
      handlers.GLOBAL_REQUEST = (p, request, wantReply, data) => {
        if (request === 'hostkeys-00@openssh.com' && !wantReply) return;
        global(p, request, wantReply, data);
      };
    };
    // installPipelinedUserauth's mark stays visible: it sees its own wrapper in the chain.
    wrapped[MARK] = orig[MARK];
    Protocol.prototype.service = wrapped;
    return (noHostKeysProof = true);
  } catch {
    return (noHostKeysProof = false);
  }
}
