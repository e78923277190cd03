/**
 * Where and how to reach one robot: inventory vars (like OpenSSH command-line options, they win) over
 * the ssh config file, over defaults. Pure apart from reading the environment's defaults.
 */
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { truthy } from '../inventory/vars.js';
import type { Vars } from '../inventory/inventory.js';
import { expandTilde, loadSshConfig, lookupHost, shellWords, type SshConfig } from './sshconfig.js';

export type HostKeyChecking = 'strict' | 'accept-new' | 'off';

/** Cellular links drop handshakes: a robot gets this many more attempts before it is unreachable. */
export const DEFAULT_CONNECT_RETRIES = 2;

export interface SshTarget {
  /** Inventory name (for messages). */
  name: string;
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  /** HashKnownHosts: accept-new records the host name hashed, as OpenSSH does. */
  hashKnownHosts?: boolean;
  /** ansible_ssh_private_key_passphrase (never logged, never on a command line). */
  keyPassphrase?: string;
  identitiesOnly: boolean;
  agentSocket?: string;
  proxyCommand?: string;
  /** Jump hosts, the first one reached first. */
  jumps: SshTarget[];
  knownHostsFiles: string[];
  hostKeyAlias?: string;
  hostKeyChecking: HostKeyChecking;
  connectTimeoutMs: number;
  /** Attempts after the first when a connection cannot be made (unreachable only: never after auth or host key). */
  connectRetries: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  become: boolean;
  becomeUser: string;
  becomePassword?: string;
}

export interface TransportOptions {
  /** --ssh-config FILE (default ~/.ssh/config) */
  sshConfigFile?: string;
  /** --known-hosts FILE: replaces the known_hosts files from ssh config. */
  knownHostsFile?: string;
  /** --host-key-checking (default: ssh config StrictHostKeyChecking, else strict). */
  hostKeyChecking?: HostKeyChecking;
  connectTimeoutS?: number;
  /** --connect-retries: more attempts after a failed handshake (default: ansible_ssh_retries, else 2). */
  connectRetries?: number;
  /** Password for sudo (from -K or FLEETMASQ_BECOME_PASSWORD); never logged. */
  becomePassword?: string;
  /** ansible.cfg's remote_user / private_key_file: below a host's own vars, above ~/.ssh/config (as Ansible passes them to ssh). */
  defaultUser?: string;
  defaultIdentityFile?: string;
  env?: NodeJS.ProcessEnv;
}

/** Options given as command-line arguments (ansible_ssh_common_args / _extra_args). */
export interface CmdlineSsh {
  options: [string, string][];
  configFile?: string;
}

export function parseSshArgs(args: string, where: string): CmdlineSsh {
  let words: string[];
  try {
    words = shellWords(args);
  } catch (e) {
    throw new ConfigError(`${where}: ${(e as Error).message}`);
  }
  const out: CmdlineSsh = { options: [] };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = () => {
      const v = words[++i];
      if (v === undefined) throw new ConfigError(`${where}: ${w} needs a value`);
      return v;
    };
    const opt = (flag: string) => (w === flag ? next() : w.startsWith(flag) ? w.slice(flag.length) : undefined);
    let v: string | undefined;
    if ((v = opt('-o')) !== undefined) {
      const m = /^([A-Za-z]+)\s*(?:=|\s)\s*(.*)$/.exec(v.trim());
      if (!m) throw new ConfigError(`${where}: cannot read ssh option '${v}'`);
      out.options.push([m[1]!.toLowerCase(), m[2]!]);
    } else if ((v = opt('-J')) !== undefined) out.options.push(['proxyjump', v]);
    else if ((v = opt('-F')) !== undefined) out.configFile = v;
    else if ((v = opt('-i')) !== undefined) out.options.push(['identityfile', v]);
    else if ((v = opt('-p')) !== undefined) out.options.push(['port', v]);
    else if ((v = opt('-l')) !== undefined) out.options.push(['user', v]);
    else if (/^-[46ACTaqvxNnkKtY]+$/.test(w)) continue; // flags without meaning here
    else throw new ConfigError(`${where}: unsupported ssh argument '${w}' (supported: -o Key=Value, -J, -F, -i, -p, -l)`);
  }
  return out;
}

function tokens(s: string, t: { h: string; p: number; r: string; n: string }): string {
  return s.replace(/%([%hprnd])/g, (_, c: string) =>
    c === '%' ? '%' : c === 'h' ? t.h : c === 'p' ? String(t.p) : c === 'r' ? t.r : c === 'n' ? t.n : homedir(),
  );
}

function parseJump(spec: string): { user?: string; host: string; port?: number }[] {
  return spec.split(',').map((j) => {
    const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(j.trim());
    if (!m) throw new ConfigError(`cannot read ProxyJump '${j}'`);
    return { user: m[1], host: m[2]!.replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : undefined };
  });
}

function checkingFrom(v: string | undefined): HostKeyChecking | undefined {
  if (v === undefined) return undefined;
  const s = v.toLowerCase();
  if (s === 'yes' || s === 'ask') return 'strict';
  if (s === 'accept-new') return 'accept-new';
  if (s === 'no' || s === 'off') return 'off';
  return undefined;
}

const configCache = new Map<string, SshConfig>();
function config(file: string | undefined): SshConfig {
  const key = file ?? '';
  let c = configCache.get(key);
  if (!c) {
    c = loadSshConfig(file ? expandTilde(file) : undefined);
    configCache.set(key, c);
  }
  return c;
}

interface ResolveInput {
  name: string;
  dest: string;
  port?: number;
  user?: string;
  cmdline: [string, string][];
  configFile?: string;
  become: boolean;
  becomeUser: string;
  depth?: number;
}

/**
 * Host and user names reach a local shell through %h and %r in a ProxyCommand, unquoted (as in
 * OpenSSH). OpenSSH refuses names with shell metacharacters, spaces, control characters or a leading
 * '-' (ssh.c valid_hostname/valid_ruser); so does fleetmasq, wherever the name came from (inventory,
 * ansible_ssh_common_args, ssh_config).
 */
function checkShellSafe(target: string, what: string, v: string): void {
  if (!v || v.startsWith('-') || /['`"$\\;&<>|(){}*\s\p{Cc}]/u.test(v)) throw new ConfigError(`${target}: ${what} ${JSON.stringify(v)} has characters that could reach a shell (OpenSSH refuses it too)`);
}

/** A host's ssh options: the command line's first, then the ssh config's (OpenSSH: the first obtained wins). */
interface HostOptions {
  get(k: string): string | undefined;
  /** Every value of a repeatable option (IdentityFile), command line first. */
  all(k: string): string[];
  /** The options' names in the order they were obtained. */
  order: string[];
}

function hostOptions(input: ResolveInput, opts: TransportOptions, env: NodeJS.ProcessEnv): HostOptions {
  const cfg = config(input.configFile ?? opts.sshConfigFile);
  const fromCmd = (k: string) => input.cmdline.find(([ck]) => ck === k)?.[1];
  const fromCfg = lookupHost(cfg, input.dest, { user: input.user ?? fromCmd('user'), hostName: fromCmd('hostname'), localUser: env.USER ?? userInfo().username });
  return {
    get: (k) => fromCmd(k) ?? fromCfg.get(k)?.[0],
    all: (k) => [...input.cmdline.filter(([ck]) => ck === k).map(([, v]) => v), ...(fromCfg.get(k) ?? [])],
    order: [...input.cmdline.map(([k]) => k), ...fromCfg.keys()],
  };
}

/** The %-tokens of ssh_config: host, port, remote user, the name as given. */
type Tokens = { h: string; p: number; r: string; n: string };

/**
 * ProxyJump and ProxyCommand: whichever is obtained first wins (command line, then the config in the
 * order lookupHost obtained its options); 'none' disables. Each jump is resolved through the ssh config
 * like OpenSSH does; hop i is reached through hop i-1, a hop's own jumps first.
 */
function resolveProxy(input: ResolveInput, opts: TransportOptions, o: HostOptions, t: Tokens): { proxyCommand?: string; jumps: SshTarget[] } {
  const proxyKind = o.order.map((k) => (k === 'proxyjump' ? 'jump' : k === 'proxycommand' ? 'command' : undefined)).find(Boolean);
  if (proxyKind === 'command') {
    const pc = o.get('proxycommand')!;
    return pc.toLowerCase() !== 'none' ? { proxyCommand: tokens(pc, t), jumps: [] } : { jumps: [] };
  }
  const pj = proxyKind === 'jump' ? o.get('proxyjump')! : 'none';
  if (pj.toLowerCase() === 'none') return { jumps: [] };
  if ((input.depth ?? 0) > 8) throw new ConfigError(`${input.name}: ProxyJump chain too long (a loop?)`);
  const hops = parseJump(pj).map((h) =>
    resolve(
      { name: `${input.name} (jump ${h.host})`, dest: h.host, port: h.port, user: h.user, cmdline: [], configFile: input.configFile, become: false, becomeUser: 'root', depth: (input.depth ?? 0) + 1 },
      opts,
    ),
  );
  return { jumps: hops.flatMap((j) => [...j.jumps, { ...j, jumps: [] }]) };
}

/** IdentityFile options, else OpenSSH's default key files that exist. */
function identityFilesOf(o: HostOptions, t: Tokens): string[] {
  const files = o.all('identityfile').map((f) => expandTilde(tokens(f, t)));
  if (files.length) return files;
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f)).filter((p) => existsSync(p));
}

/** The user's known_hosts files (or --known-hosts alone), then the global ones. */
function knownHostsFilesOf(o: HostOptions, opts: TransportOptions, t: Tokens): string[] {
  if (opts.knownHostsFile) return [opts.knownHostsFile];
  const own = (o.get('userknownhostsfile') ?? '~/.ssh/known_hosts ~/.ssh/known_hosts2').split(/\s+/).map((f) => expandTilde(tokens(f, t)));
  return [...own, ...(o.get('globalknownhostsfile') ?? '/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2').split(/\s+/)];
}

/** IdentityAgent: a socket, SSH_AUTH_SOCK by name, or none; unset: the environment's agent. */
function agentSocketOf(o: HostOptions, env: NodeJS.ProcessEnv): string | undefined {
  const agent = o.get('identityagent');
  if (!agent) return env.SSH_AUTH_SOCK;
  if (agent.toLowerCase() === 'none') return undefined;
  return expandTilde(agent === 'SSH_AUTH_SOCK' ? env.SSH_AUTH_SOCK ?? '' : agent);
}

/** The connect timeout and keepalives (ServerAliveInterval, ServerAliveCountMax). */
function timingOf(o: HostOptions, opts: TransportOptions, name: string): Pick<SshTarget, 'connectTimeoutMs' | 'keepaliveIntervalMs' | 'keepaliveCountMax'> {
  const connectTimeout = Number(o.get('connecttimeout') ?? opts.connectTimeoutS ?? 10);
  if (!Number.isFinite(connectTimeout) || connectTimeout < 0) throw new ConfigError(`${name}: invalid ConnectTimeout '${o.get('connecttimeout')}'`);
  return {
    connectTimeoutMs: Math.max(1, connectTimeout) * 1000,
    keepaliveIntervalMs: (Number(o.get('serveraliveinterval') ?? 5) || 5) * 1000,
    keepaliveCountMax: Number(o.get('serveralivecountmax') ?? 3) || 3,
  };
}

function resolve(input: ResolveInput, opts: TransportOptions): SshTarget {
  const env = opts.env ?? process.env;
  const o = hostOptions(input, opts, env);
  const host = tokens(o.get('hostname') ?? input.dest, { h: input.dest, p: 22, r: '', n: input.dest });
  const port = input.port ?? Number(o.get('port') ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`${input.name}: invalid port ${port}`);
  const user = input.user ?? o.get('user') ?? env.USER ?? userInfo().username;
  checkShellSafe(input.name, 'host name', host);
  // %n is the name as given (before HostName): OpenSSH checks that one too.
  checkShellSafe(input.name, 'host name', input.dest);
  checkShellSafe(input.name, 'user name', user);
  const t: Tokens = { h: host, p: port, r: user, n: input.dest };
  const { proxyCommand, jumps } = resolveProxy(input, opts, o, t);
  return {
    name: input.name,
    host,
    port,
    user,
    identityFiles: identityFilesOf(o, t),
    identitiesOnly: (o.get('identitiesonly') ?? 'no').toLowerCase() === 'yes',
    agentSocket: agentSocketOf(o, env),
    proxyCommand,
    jumps,
    knownHostsFiles: knownHostsFilesOf(o, opts, t),
    hostKeyAlias: o.get('hostkeyalias'),
    hashKnownHosts: (o.get('hashknownhosts') ?? 'no').toLowerCase() === 'yes',
    hostKeyChecking: opts.hostKeyChecking ?? checkingFrom(o.get('stricthostkeychecking')) ?? 'strict',
    ...timingOf(o, opts, input.name),
    connectRetries: opts.connectRetries ?? DEFAULT_CONNECT_RETRIES,
    become: input.become,
    becomeUser: input.becomeUser,
  };
}

/** The connection plan for an inventory host. */
export function targetFor(name: string, vars: Vars, opts: TransportOptions = {}): SshTarget {
  const cmd: [string, string][] = [];
  let configFile: string | undefined;
  for (const k of ['ansible_ssh_common_args', 'ansible_ssh_extra_args']) {
    if (typeof vars[k] === 'string' && vars[k]) {
      const parsed = parseSshArgs(vars[k] as string, `${name}: ${k}`);
      cmd.push(...parsed.options);
      configFile ??= parsed.configFile;
    }
  }
  const key = vars.ansible_ssh_private_key_file ?? vars.ansible_private_key_file ?? opts.defaultIdentityFile;
  if (typeof key === 'string') cmd.unshift(['identityfile', key]);
  const portVar = vars.ansible_port ?? vars.ansible_ssh_port;
  const t = resolve(
    {
      name,
      dest: String(vars.ansible_host ?? vars.ansible_ssh_host ?? name),
      port: portVar !== undefined ? Number(portVar) : undefined,
      user: (vars.ansible_user ?? vars.ansible_ssh_user ?? (cmd.some(([k]) => k === 'user') ? undefined : opts.defaultUser)) as string | undefined,
      cmdline: cmd,
      configFile,
      become: truthy(vars.ansible_become),
      becomeUser: String(vars.ansible_become_user ?? 'root'),
    },
    opts,
  );
  if (vars.ansible_timeout !== undefined && !cmd.some(([k]) => k === 'connecttimeout')) t.connectTimeoutMs = Number(vars.ansible_timeout) * 1000;
  t.connectRetries = opts.connectRetries ?? (vars.ansible_ssh_retries !== undefined ? Number(vars.ansible_ssh_retries) : DEFAULT_CONNECT_RETRIES);
  if (vars.ansible_ssh_private_key_passphrase !== undefined) t.keyPassphrase = String(vars.ansible_ssh_private_key_passphrase);
  const pw = opts.becomePassword ?? (vars.ansible_become_password ?? vars.ansible_become_pass) as string | undefined;
  if (pw !== undefined) t.becomePassword = String(pw);
  return t;
}

export function clearSshConfigCache(): void {
  configCache.clear();
}
