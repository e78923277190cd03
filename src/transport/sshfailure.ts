/**
 * What an SSH failure means for the robot, decided from typed fields only — never from an error's text:
 * - ssh2's `level` ('client-authentication', 'client-timeout', 'client-socket', 'client-dns', 'protocol',
 *   'handshake', 'agent'; ssh2 1.17.0, lib/client.js and lib/protocol),
 * - node's `code` on socket errors (ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT…), and a numeric `code` for
 *   the robot's SSH_MSG_DISCONNECT reason,
 * - our own typed errors: HostError, and SshStreamError for a packet ssh2 could not read,
 * - and the stage the connection was in, which fleetmasq tracks itself where ssh2 gives one level to
 *   two things: 'client-timeout' before 'ready' is the handshake timeout (readyTimeout), after it the
 *   keepalive timeout (keepalives only start at 'ready').
 */
import ProtocolModule from 'ssh2/lib/protocol/Protocol.js';
import { HostError } from '../errors.js';
import type { SshTarget } from './target.js';

/** Where the connection was when the error came: before 'ready', after it, or opening a command's channel. */
export type SshStage = 'connecting' | 'connected' | 'channel';

/**
 * A packet from the robot that ssh2's parser could not read (a failed MAC or AEAD tag, a bad packet
 * length, a garbled banner): ssh2 throws these untyped from its parser; installStreamErrors marks them.
 */
export class SshStreamError extends Error {
  constructor(readonly original: Error) {
    super(original.message);
    this.name = 'SshStreamError';
  }
}

/** The typed fields fleetmasq reads on an ssh2 or node error. */
export type SshErrorFields = Error & { level?: string; code?: string | number };

/** Node's codes for a socket that could not reach, or lost, its peer. */
const NET_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED']);

/** An ssh2 error as what it means for the robot (exported for tests). */
export function classify(err: SshErrorFields, target: SshTarget, timeoutMs: number, stage: SshStage = 'connecting'): HostError {
  if (err instanceof HostError) return err;
  const where = `${target.host}:${target.port}`;
  if (err instanceof SshStreamError)
    return new HostError('unreachable', `the SSH stream from ${where} failed its integrity check (corrupted or reordered on the way): ${err.message}`);
  switch (err.level) {
    case 'client-authentication':
      return new HostError('auth', `authentication failed for ${target.user}@${target.host} (keys tried: ${target.identityFiles.join(', ') || 'none'}${target.agentSocket ? ', ssh-agent' : ''})`);
    case 'client-timeout':
      return stage === 'connecting'
        ? new HostError('unreachable', `no SSH answer from ${where} within ${Math.round(timeoutMs / 1000)} s`, { silent: true })
        : new HostError('unreachable', `connection to ${target.host} lost (no keepalive answer)`);
    case 'client-socket':
    case 'client-dns':
      return new HostError('unreachable', `cannot reach ${where}: ${err.message}`);
    case 'handshake':
      return new HostError('unreachable', `the SSH handshake with ${where} failed: ${err.message}`);
    case 'protocol':
      return new HostError('unreachable', `SSH protocol error from ${where}: ${err.message}`);
  }
  if (typeof err.code === 'string' && NET_CODES.has(err.code)) return new HostError('unreachable', `cannot reach ${where}: ${err.message}`);
  if (typeof err.code === 'number') return new HostError('unreachable', `${where} ended the connection: ${err.message}`);
  // A command's channel that could not be opened (the connection closed under it, or the robot refused).
  if (stage === 'channel') return new HostError('unreachable', `cannot reach ${where}: could not start a command: ${err.message}`);
  return new HostError('unreachable', `${where}: ${err.message}`);
}

const MARK = Symbol.for('fleetmasq.streamerrors');
let installed: boolean | undefined;

/**
 * Wraps ssh2's Protocol.parse (idempotent): an untyped error thrown while reading the robot's bytes (ssh2
 * throws its decryption, MAC and packet-length failures as plain Errors, which its Client re-emits with no
 * level) becomes an SshStreamError. Errors ssh2 already typed (a level) pass unchanged. Returns whether it
 * is active (a test pins it with the locked ssh2).
 */
export function installStreamErrors(): boolean {
  if (installed !== undefined) return installed;
  const proto = (ProtocolModule as { prototype?: { parse?: ParseFn & { [MARK]?: true } } })?.prototype;
  const orig = proto?.parse;
  if (!proto || typeof orig !== 'function') return (installed = false);
  if (orig[MARK]) return (installed = true);
  const wrapped: ParseFn & { [MARK]?: true } = function (this: unknown, chunk, i, len) {
    try {
      return orig.call(this, chunk, i, len);
    } catch (e) {
      throw e instanceof Error && (e as SshErrorFields).level === undefined && !(e instanceof HostError) ? new SshStreamError(e) : e;
    }
  };
  wrapped[MARK] = true;
  proto.parse = wrapped;
  return (installed = true);
}
type ParseFn = (this: unknown, chunk: Buffer, i: number, len: number) => void;
