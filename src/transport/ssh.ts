/**
 * One SSH connection per robot (node-ssh over ssh2), reused for every step of a run.
 * - Host keys verified against known_hosts (strict by default; accept-new records; off warns).
 * - ProxyCommand (a local process as the socket) and ProxyJump chains (forwardOut through each hop).
 * - Connect timeout, keepalives (a dead link is noticed in ~interval*count), a timeout on every command.
 * - A key login costs one round trip, not two (fastauth.ts).
 * - sudo with the password on stdin, answered only when sudo prompts; never on a command line or logged.
 * Every failure is a HostError with a kind; a dropped connection fails that robot only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { NodeSSH } from 'node-ssh';
import ssh2, { type Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { HostError } from '../errors.js';
import { commandLine } from '../remote/become.js';
import { indexKnownHosts, knownHostsLine, knownHostsName, knownKeyTypes, parseKnownHosts, verifyHostKey, type KnownHostEntry, type KnownHostsIndex } from './knownhosts.js';
import type { SshTarget } from './target.js';
import { coalesceWrites } from './coalesce.js';
import { installFastPublicKeyAuth, installGuessedKeyExchange, installNoHostKeysProof, installPipelinedUserauth } from './fastauth.js';
import { installKeyObjects } from './keyobjects.js';
import { classify, installStreamErrors } from './sshfailure.js';
import { isEncryptedKey } from './keyfile.js';

export { classify } from './sshfailure.js';

// Key logins in one round trip (the signed request straight away): see fastauth.ts.
installFastPublicKeyAuth();
// The first authentication request in the same flight as the service request: see fastauth.ts.
installPipelinedUserauth();
// The key exchange's first packet sent with the KEXINIT, guessing curve25519-sha256: see fastauth.ts.
installGuessedKeyExchange();
// A packet ssh2 could not read is a typed SshStreamError, not an untyped Error: see sshfailure.ts.
installStreamErrors();
// The host keys a server announces after the login are not proven (fleetmasq never uses them): see fastauth.ts.
installNoHostKeysProof();
// Signatures with the identity key decoded once, host-key checks from the raw key: see keyobjects.ts.
installKeyObjects();

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal?: string;
}

/** What one command may send back before fleetmasq stops reading (a facts document is a few KiB). */
export const MAX_OUTPUT_BYTES = 8 << 20;

export interface ExecOptions {
  timeoutMs?: number;
  /** Stop reading (and fail the command) past this many bytes of stdout + stderr. */
  maxOutputBytes?: number;
  /** Run as root via sudo when the target says become. Default true. */
  become?: boolean;
}

/** A ProxyCommand's stdio as a socket. */
class ProcessSocket extends Duplex {
  constructor(private readonly child: ChildProcess) {
    // Not half-open: when the proxy's output ends, the link is gone.
    super({ allowHalfOpen: false });
    child.stdout!.on('data', (d: Buffer) => {
      if (!this.push(d)) child.stdout!.pause();
    });
    child.stdout!.on('end', () => this.push(null));
    child.on('error', (e) => this.destroy(e));
    child.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    child.stdin!.on('error', () => {
      // A proxy that exited: seen by 'close' above (the link is gone), not an error of its own.
    });
  }
  override _read(): void {
    this.child.stdout!.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    // Writing to a proxy that has exited (EPIPE) is the link being gone, which 'close' reports.
    if (this.child.exitCode !== null || this.child.signalCode !== null || this.child.stdin!.destroyed) return cb();
    this.child.stdin!.write(chunk, (e) => cb(e && (e as NodeJS.ErrnoException).code !== 'EPIPE' ? e : null));
  }
  override _final(cb: () => void): void {
    this.child.stdin!.end();
    cb();
  }
  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    cb(err);
  }
  // ssh2 calls these on real sockets.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** Parsed known_hosts files, re-read only when their mtime or size changes. */
const knownHostsCache = new Map<string, { stamp: string; entries: KnownHostEntry[] }>();
function readKnownHosts(files: string[]): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const f of files) {
    const st = statSync(f, { throwIfNoEntry: false });
    if (!st) continue;
    const stamp = `${st.mtimeMs}:${st.size}`;
    let cached = knownHostsCache.get(f);
    if (cached?.stamp !== stamp) {
      cached = { stamp, entries: parseKnownHosts(readFileSync(f, 'utf8'), f) };
      knownHostsCache.set(f, cached);
    }
    out.push(...cached.entries);
  }
  return out;
}

/** The index of a set of known_hosts files, rebuilt only when one of them changed (see indexKnownHosts). */
const knownHostsIndexes = new Map<string, { stamps: string; index: KnownHostsIndex }>();
function knownHostsFor(files: string[], name: string): KnownHostEntry[] {
  // Their mtimes and sizes, as readKnownHosts' own cache: no copy of every entry for every connection.
  const stamps = files
    .map((f) => {
      const st = statSync(f, { throwIfNoEntry: false });
      return st ? `${st.mtimeMs}:${st.size}` : '-';
    })
    .join('|');
  const key = files.join('\0');
  let c = knownHostsIndexes.get(key);
  if (c?.stamps !== stamps) {
    c = { stamps, index: indexKnownHosts(readKnownHosts(files)) };
    knownHostsIndexes.set(key, c);
  }
  return c.index.candidates(name);
}

export type Warn = (msg: string) => void;
/**
 * Verbose output (-v, -vv, -vvv): 1 each command's exit status and time, 2 the scripts sent and the
 * robot's raw output, 3 the SSH handshake (algorithms, keys, proxies). Its receiver redacts secrets and
 * neutralises control characters before anything is shown.
 */
export type Trace = (level: 1 | 2 | 3, text: string) => void;

export class SshConnection {
  private closed = false;
  private closeReason?: HostError;
  private onClosed: (() => void)[] = [];
  /** Resolves when the connection is gone (dropped by the robot, keepalive timeout, or disposed). */
  readonly closedPromise: Promise<void> = new Promise((r) => this.onClosed.push(r));
  private readonly pending = new Set<(e: HostError) => void>();

  /** Verbose output about this connection's commands (set by whoever opened it). */
  trace?: Trace;

  private constructor(
    public readonly target: SshTarget,
    private readonly ssh: NodeSSH,
    private readonly hops: NodeSSH[],
    private readonly proxies: ChildProcess[],
  ) {
    const conn = ssh.connection!;
    // After connect ('ready' has fired), a later error must not become an unhandled 'error' event.
    conn.on('error', (e: Error) => this.fail(classify(e, target, target.connectTimeoutMs, 'connected')));
    conn.on('close', () => this.fail(new HostError('unreachable', `connection to ${target.host} closed`)));
    conn.on('end', () => this.fail(new HostError('unreachable', `connection to ${target.host} closed by the robot`)));
  }

  private fail(e: HostError): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = e;
    for (const r of this.onClosed) r();
    for (const p of this.pending) p(e);
    this.pending.clear();
    this.dispose();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Opens the connection (through its proxy or jumps); `signal` aborts an attempt still under way. */
  static async open(target: SshTarget, warn: Warn = () => {}, signal?: AbortSignal, trace?: Trace): Promise<SshConnection> {
    const hops: NodeSSH[] = [];
    const proxies: ChildProcess[] = [];
    const connecting = new Set<NodeSSH>();
    const onAbort = () => {
      for (const p of proxies) p.kill('SIGKILL');
      for (const h of [...hops, ...connecting]) {
        try {
          h.connection?.destroy();
          h.dispose();
        } catch {
          // Cancelling: a half-open connection may throw on teardown; it is being dropped anyway.
        }
      }
    };
    if (signal?.aborted) throw new HostError('unreachable', 'connection attempt cancelled');
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let sock: Duplex | undefined;
      const chain = [...target.jumps, { ...target, jumps: [] }];
      let last: NodeSSH | undefined;
      for (let i = 0; i < chain.length; i++) {
        const hop = chain[i]!;
        if (i === 0 && hop.proxyCommand) {
          // Its own process group: a Ctrl-C at the terminal is fleetmasq's to handle (robots in flight
          // finish their step), not a signal that cuts every robot's link at once. The sudo password
          // stays out of its environment.
          const { FLEETMASQ_BECOME_PASSWORD: _secret, ...env } = process.env;
          // `exec`, as OpenSSH does: the command itself is the child, so stopping it stops the proxy.
          const child = spawn('/bin/sh', ['-c', `exec ${hop.proxyCommand}`], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
          let stderr = '';
          child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
          child.on('exit', (code) => {
            if (code && sock) sock.destroy(new HostError('unreachable', `ProxyCommand for ${hop.host} exited with ${code}${stderr.trim() ? `: ${stderr.trim()}` : ''}`));
          });
          proxies.push(child);
          trace?.(3, `ProxyCommand for ${hop.host}: ${hop.proxyCommand}`);
          sock = new ProcessSocket(child);
        } else if (i > 0) {
          trace?.(3, `through jump host ${chain[i - 1]!.host} to ${hop.host}:${hop.port}`);
          sock = await forwardOut(last!, hop, target);
        }
        last = await connectOne(hop, sock, warn, connecting, trace);
        hops.push(last);
        if (signal?.aborted) throw new HostError('unreachable', 'connection attempt cancelled');
      }
      const main = hops.pop()!;
      signal?.removeEventListener('abort', onAbort);
      const conn = new SshConnection(target, main, hops, proxies);
      conn.trace = trace;
      return conn;
    } catch (e) {
      signal?.removeEventListener('abort', onAbort);
      for (const h of hops) h.dispose();
      for (const p of proxies) p.kill('SIGTERM');
      throw classify(e as Error, target, target.connectTimeoutMs);
    }
  }

  /**
   * Runs a POSIX sh script on the robot (as root when the target becomes). One channel, one round trip
   * pair; the script travels as the command, stdin only ever carries the sudo password.
   */
  exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const trace = this.trace;
    if (!trace) return this.execOnce(script, opts);
    const t0 = Date.now();
    trace(2, `script sent (${script.length} bytes):\n${script}`);
    return this.execOnce(script, opts).then(
      (r) => {
        trace(1, `command exited ${r.code ?? `on signal ${r.signal}`} after ${Date.now() - t0} ms (stdout ${r.stdout.length} B, stderr ${r.stderr.length} B)`);
        if (r.stdout) trace(2, `stdout:\n${r.stdout.trimEnd()}`);
        if (r.stderr) trace(2, `stderr:\n${r.stderr.trimEnd()}`);
        return r;
      },
      (e: HostError) => {
        trace(1, `command failed after ${Date.now() - t0} ms: ${e.kind}: ${e.message}`);
        throw e;
      },
    );
  }

  private execOnce(script: string, opts: ExecOptions): Promise<ExecResult> {
    if (this.closed) return Promise.reject(this.closeReason ?? new HostError('unreachable', 'connection closed'));
    const t = this.target;
    const become = (opts.become ?? true) && t.become && !(t.user === t.becomeUser);
    const prompt = `[fleetmasq-sudo-${randomBytes(6).toString('hex')}]`;
    const command = commandLine(script, become ? { user: t.becomeUser, prompt: t.becomePassword !== undefined ? prompt : undefined } : undefined);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const conn = this.ssh.connection as Client;
    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let stream: ClientChannel | undefined;
      const done = (err: HostError | undefined, res?: ExecResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(onConnFail);
        if (err) {
          try {
            stream?.close();
          } catch {
            // The channel is already closed (the error may have come from it).
          }
          reject(err);
        } else resolve(res!);
      };
      const onConnFail = (e: HostError) => done(e);
      this.pending.add(onConnFail);
      const timer = setTimeout(
        () => done(new HostError('timeout', `command did not finish within ${Math.round(timeoutMs / 1000)} s`)),
        timeoutMs,
      );
      conn.exec(command, (err, ch) => {
        if (err) return done(classify(err, t, timeoutMs, 'channel'));
        stream = ch;
        readChannel(ch, t, { cap: opts.maxOutputBytes ?? MAX_OUTPUT_BYTES, sudoPrompt: become && t.becomePassword !== undefined ? prompt : undefined, become }, done);
      });
    });
  }

  dispose(): void {
    this.closed = true;
    for (const r of this.onClosed) r();
    try {
      this.ssh.dispose();
    } catch {
      // Disposing a connection that already failed can throw; it is closed either way.
    }
    for (const h of this.hops.reverse()) {
      try {
        h.dispose();
      } catch {
        // Likewise for a jump hop.
      }
    }
    for (const p of this.proxies) if (p.exitCode === null) p.kill('SIGTERM');
  }
}

/** sudo's own refusal in a command's stderr, as a `become` failure (undefined: sudo was not the problem). */
function becomeFailure(stderr: string, t: SshTarget): HostError | undefined {
  if (!/^sudo: (a password is required|a terminal is required|.*is not in the sudoers|.*not allowed to execute|.*incorrect password|\d+ incorrect password)/m.test(stderr)) return undefined;
  return /password is required|terminal is required/.test(stderr)
    ? new HostError('become', `sudo on ${t.name} needs a password for ${t.user}: give it with -K/--ask-become-pass or FLEETMASQ_BECOME_PASSWORD`)
    : new HostError('become', `sudo failed on ${t.name}: ${stderr.trim().split('\n')[0]}`);
}

/** A channel through a jump host to the next hop; a jump host that never answers fails within the connect timeout. */
function forwardOut(via: NodeSSH, hop: SshTarget, target: SshTarget): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new HostError('unreachable', `jump host did not open a channel to ${hop.host}:${hop.port} for ${target.name} within ${Math.round(target.connectTimeoutMs / 1000)} s`, { silent: true }));
      // The jump connection is dropped with the attempt (the caller disposes the hops).
    }, target.connectTimeoutMs);
    via.connection!.forwardOut('127.0.0.1', 0, hop.host, hop.port, (err, stream) => {
      clearTimeout(timer);
      if (err) reject(new HostError('unreachable', `jump host could not reach ${hop.host}:${hop.port} for ${target.name}: ${err.message}`));
      else resolve(stream as unknown as Duplex);
    });
  });
}

/**
 * The host key check for one hop, as ssh2's hostVerifier: known_hosts (strict), accept-new (the key
 * recorded once), off (warned). A refusal's reason is kept for the caller (ssh2 only sees false).
 */
function hostKeyVerifier(t: SshTarget, khName: string, entries: KnownHostEntry[], warn: Warn): { verify: (key: Buffer) => boolean; refusal: () => HostError | undefined } {
  let refusal: HostError | undefined;
  const verify = (key: Buffer): boolean => {
    let v = verifyHostKey(entries, khName, key);
    // A revoked key is refused whatever the checking mode, as OpenSSH does.
    if (t.hostKeyChecking === 'off' && v.status !== 'revoked') {
      warn(`host key checking is OFF for ${t.name}: the robot's identity is not verified`);
      return true;
    }
    if (v.status === 'match') return true;
    if (v.status === 'unknown' && t.hostKeyChecking === 'accept-new') {
      const now = recordNewKey(t, khName, key, warn);
      if (now.status === 'unknown' || now.status === 'match') return true;
      // Another connection recorded a different key for this name meanwhile: a changed key, refused.
      v = now;
    }
    refusal =
      v.status === 'unknown'
        ? new HostError('hostkey', `host key of ${khName} is not known (checked ${t.knownHostsFiles.filter(existsSync).join(', ') || 'no known_hosts file'}); refusing to connect in strict mode`)
        : v.status === 'revoked'
          ? new HostError('hostkey', `host key of ${khName} is revoked (${v.entry.file}:${v.entry.line})`)
          : new HostError('hostkey', `HOST KEY CHANGED for ${khName}: it does not match ${v.known.map((e) => `${e.file}:${e.line}`).join(', ')}; refusing to connect (possible impersonation, or the robot was reinstalled)`);
    return false;
  };
  return { verify, refusal: () => refusal };
}

/**
 * accept-new: records an unknown key in the first known_hosts file, in ~/.ssh as OpenSSH makes it (0700);
 * once, even when several robots share a name or connections race (checked against the file as it is
 * now, not as it was read). Returns the verdict before recording ('unknown': recorded now).
 */
function recordNewKey(t: SshTarget, khName: string, key: Buffer, warn: Warn): ReturnType<typeof verifyHostKey> {
  const file = t.knownHostsFiles[0]!;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  knownHostsCache.delete(file);
  const now = verifyHostKey(readKnownHosts([file]), khName, key);
  if (now.status === 'unknown') {
    appendFileSync(file, knownHostsLine(khName, key, t.hashKnownHosts), { mode: 0o600 });
    knownHostsCache.delete(file);
    warn(`recorded the new host key of ${khName} in ${file}`);
  }
  return now;
}

/** The host key types to accept, the ones known_hosts holds for this name first (no needless mismatch). */
function hostKeyOrder(entries: KnownHostEntry[], khName: string): string[] {
  const preferred = knownKeyTypes(entries, khName);
  const allTypes = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  const order = (types: string[]) => types.flatMap((k) => (k === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [k]));
  return [...new Set([...order(preferred), ...allTypes])].filter((k) => allTypes.includes(k));
}

/** Auth: each key file, then the agent (unless IdentitiesOnly), like OpenSSH; 'none' when there is nothing to try. */
function authMethods(t: SshTarget, keys: ParsedKey[]): NonNullable<ConnectConfig['authHandler']> {
  const methods: NonNullable<ConnectConfig['authHandler']> = [];
  for (const key of keys) methods.push({ type: 'publickey', username: t.user, key, ...(t.keyPassphrase !== undefined ? { passphrase: t.keyPassphrase } : {}) } as never);
  if (t.agentSocket && (!t.identitiesOnly || !keys.length)) methods.push({ type: 'agent', username: t.user, agent: t.agentSocket } as never);
  return (methods.length ? methods : ['none']) as never;
}

/** ssh2's settings for one hop over `wire` (the socket opened for it, or the proxy's / jump's stream). */
function connectConfig(t: SshTarget, wire: Duplex, proxied: boolean, verify: (key: Buffer) => boolean, serverHostKey: string[], authHandler: ConnectConfig['authHandler'], trace?: Trace): ConnectConfig & { username: string } {
  return {
    username: t.user,
    readyTimeout: t.connectTimeoutMs,
    keepaliveInterval: t.keepaliveIntervalMs,
    keepaliveCountMax: t.keepaliveCountMax,
    hostVerifier: verify,
    // curve25519-sha256 first, by OpenSSH's name for it (ssh2 lists the libssh.org alias first): the key
    // exchange's guessed first packet (fastauth.ts) is taken by a server that prefers the same name.
    algorithms: { serverHostKey: serverHostKey as never, kex: { remove: ['curve25519-sha256'], prepend: ['curve25519-sha256'] } as never },
    authHandler,
    sock: wire as never,
    // The host as well when fleetmasq opened the socket itself (ssh2's own account of where it connects).
    ...(proxied ? {} : { host: t.host, port: t.port }),
    // -vvv: ssh2's own account of the handshake (algorithms offered and chosen, host key, auth methods).
    // FLEETMASQ_SSH_DEBUG (the raw form, straight to stderr with a clock) is kept for transport tests.
    ...(trace || process.env.FLEETMASQ_SSH_DEBUG
      ? {
          debug: (m: string) => {
            if (process.env.FLEETMASQ_SSH_DEBUG) process.stderr.write(`[ssh ${t.name} ${Date.now() % 100000}] ${m}\n`);
            trace?.(3, `ssh2: ${m}`);
          },
        }
      : {}),
  };
}

function traceConnect(trace: Trace, t: SshTarget, proxied: boolean, khName: string, usable: number, problems: string[]): void {
  trace(3, `connecting to ${t.user}@${t.host}:${t.port}${proxied ? ' over a proxy or jump' : ''} (connect timeout ${Math.round(t.connectTimeoutMs / 1000)} s)`);
  trace(3, `host key: checking ${t.hostKeyChecking}, known_hosts ${t.knownHostsFiles.join(', ') || 'none'} as ${khName}`);
  trace(3, `auth: key files ${t.identityFiles.join(', ') || 'none'} (${usable} usable${problems.length ? `; ${problems.join('; ')}` : ''})${t.agentSocket && (!t.identitiesOnly || !usable) ? ', then the agent' : ''}`);
}

/**
 * A failed handshake as what it means: the host key refusal first; a robot that answered but whose
 * handshake stalled is not silent; an auth failure says why the keys could not be used.
 */
function handshakeFailure(e: Error, t: SshTarget, heard: boolean, refusal: HostError | undefined, problems: string[]): HostError {
  if (refusal) return refusal;
  const classified = classify(e, t, t.connectTimeoutMs, 'connecting');
  const err = classified.detail?.silent && heard ? new HostError('unreachable', `${t.host}:${t.port} answered, but the SSH handshake did not complete within ${Math.round(t.connectTimeoutMs / 1000)} s`) : classified;
  // A key that could not be used says why (an encrypted key without its passphrase, a wrong one).
  if (err.kind === 'auth' && problems.length) return new HostError('auth', `${err.message}: ${problems.join('; ')}`);
  return err;
}

async function connectOne(t: SshTarget, sock: Duplex | undefined, warn: Warn, connecting: Set<NodeSSH>, trace?: Trace): Promise<NodeSSH> {
  const khName = knownHostsName(t.hostKeyAlias ?? t.host, t.port);
  const entries = knownHostsFor(t.knownHostsFiles, khName);
  const hostKey = hostKeyVerifier(t, khName, entries, warn);
  const { keys, problems } = readIdentities(t);
  if (trace) traceConnect(trace, t, Boolean(sock), khName, keys.length, problems);
  // The socket is opened here (ssh2 takes a socket that is still connecting), so that what it heard is
  // known: a robot that never sent a byte in the whole timeout is silent (not worth another attempt in
  // this run); one whose handshake stalled after its banner is not.
  let heard = false;
  const wire: Duplex = sock ?? coalesceWrites(netConnect({ host: t.host, port: t.port }));
  const onData = () => {
    heard = true;
    wire.off('data', onData);
  };
  wire.on('data', onData);
  const ssh = new NodeSSH();
  connecting.add(ssh);
  try {
    await ssh.connect(connectConfig(t, wire, Boolean(sock), hostKey.verify, hostKeyOrder(entries, khName), authMethods(t, keys), trace) as never);
    connecting.delete(ssh);
  } catch (e) {
    connecting.delete(ssh);
    try {
      ssh.dispose();
    } catch {
      // The failed attempt may already be torn down; the error that matters is classified below.
    }
    if (!sock) wire.destroy();
    throw handshakeFailure(e as Error, t, heard, hostKey.refusal(), problems);
  }
  return ssh;
}

/**
 * ssh2's verdict on a key file's bytes, once per file content and passphrase (a fleet shares one key:
 * parsing it for every robot cost more than its login's signature).
 */
type ParsedKey = Exclude<ReturnType<typeof ssh2.utils.parseKey>, Error | Error[]>;
const parsedKeys = new Map<string, { buf: Buffer; passphrase: string | undefined; parsed: ReturnType<typeof ssh2.utils.parseKey> }>();
function parseKeyOnce(file: string, buf: Buffer, passphrase: string | undefined): ReturnType<typeof ssh2.utils.parseKey> {
  const c = parsedKeys.get(file);
  if (c && c.passphrase === passphrase && c.buf.equals(buf)) return c.parsed;
  const parsed = ssh2.utils.parseKey(buf, passphrase);
  parsedKeys.set(file, { buf, passphrase, parsed });
  return parsed;
}

/**
 * The identity files' bytes, each checked the way ssh2 will parse it: a key that cannot be used (an
 * encrypted key without its passphrase, a wrong passphrase) is left out, and said why on an auth failure.
 */
function readIdentities(t: SshTarget): { keys: ParsedKey[]; problems: string[] } {
  const keys: ParsedKey[] = [];
  const problems: string[] = [];
  for (const f of t.identityFiles) {
    let buf: Buffer;
    try {
      buf = readFileSync(f);
    } catch {
      continue; // As OpenSSH: an IdentityFile that is not there is skipped.
    }
    const parsed = parseKeyOnce(f, buf, t.keyPassphrase);
    if (parsed instanceof Error) {
      // Told from the key file's own header (keyfile.ts), not from the text of ssh2's error.
      const encrypted = isEncryptedKey(buf);
      if (encrypted && t.keyPassphrase === undefined)
        problems.push(`${f} is encrypted and no passphrase was given (set ansible_ssh_private_key_passphrase, or load the key into ssh-agent)`);
      else if (encrypted) problems.push(`the passphrase for ${f} is wrong`);
      else problems.push(`${f} is not a usable private key (${parsed.message})`);
      continue;
    }
    // The parsed key itself (ssh2 takes a parsed key as it is): not parsed again for every robot.
    keys.push(parsed);
  }
  return { keys, problems };
}

/**
 * Reads one command's channel to its end: stdout and stderr as they come, decoded once (a character may
 * be split across chunks) and never more than `cap` bytes in all (a robot that streams without end cannot
 * exhaust the controller); sudo's password prompt, when there is one, answered once with the password
 * (asked twice, it was refused). `done` gets the result or the typed error.
 */
function readChannel(
  ch: ClientChannel,
  t: SshTarget,
  o: { cap: number; become: boolean; sudoPrompt?: string },
  done: (err: HostError | undefined, res?: ExecResult) => void,
): void {
  const out: Buffer[] = [];
  let bytes = 0;
  let stderr = '';
  let prompts = 0;
  const take = (d: Buffer): boolean => {
    bytes += d.length;
    if (bytes <= o.cap) return true;
    done(new HostError('command', `the robot sent more than ${Math.round(o.cap / 1048576)} MiB of output for one command: stopped reading it (a misbehaving tool on the robot?)`));
    return false;
  };
  ch.on('data', (d: Buffer) => take(d) && out.push(d));
  ch.stderr.on('data', (d: Buffer) => {
    if (!take(d)) return;
    stderr += d.toString('utf8');
    if (o.sudoPrompt === undefined) return;
    while (stderr.includes(o.sudoPrompt)) {
      stderr = stderr.replace(o.sudoPrompt, '');
      prompts++;
      if (prompts > 1) return done(new HostError('become', `sudo rejected the password for ${t.user} on ${t.name}`));
      ch.write(`${t.becomePassword}\n`);
    }
  });
  if (o.sudoPrompt === undefined) ch.end();
  ch.on('close', (code: number | null, signal?: string) => {
    const sudoFailed = o.become && code !== 0 ? becomeFailure(stderr, t) : undefined;
    if (sudoFailed) return done(sudoFailed);
    done(undefined, { stdout: Buffer.concat(out).toString('utf8'), stderr, code: code ?? null, ...(signal ? { signal } : {}) });
  });
}
