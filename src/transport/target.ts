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

function resolve(input: ResolveInput, opts: TransportOptions): SshTarget {
  const env = opts.env ?? process.env;
  const cfg = config(input.configFile ?? opts.sshConfigFile);
  const fromCmd = (k: string) => input.cmdline.find(([ck]) => ck === k)?.[1];
  const fromCfg = lookupHost(cfg, input.dest, { user: input.user ?? fromCmd('user'), hostName: fromCmd('hostname'), localUser: env.USER ?? userInfo().username });
  const get = (k: string): string | undefined => input.cmdline.find(([ck]) => ck === k)?.[1] ?? fromCfg.get(k)?.[0];
  const all = (k: string): string[] => [...input.cmdline.filter(([ck]) => ck === k).map(([, v]) => v), ...(fromCfg.get(k) ?? [])];

  const host = tokens(get('hostname') ?? input.dest, { h: input.dest, p: 22, r: '', n: input.dest });
  const port = input.port ?? Number(get('port') ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`${input.name}: invalid port ${port}`);
  const user = input.user ?? get('user') ?? env.USER ?? userInfo().username;
  checkShellSafe(input.name, 'host name', host);
  // %n is the name as given (before HostName): OpenSSH checks that one too.
  checkShellSafe(input.name, 'host name', input.dest);
  checkShellSafe(input.name, 'user name', user);
  const t = { h: host, p: port, r: user, n: input.dest };

  // ProxyJump and ProxyCommand: whichever is obtained first wins (command line, then the config in the
  // order lookupHost obtained its options); 'none' disables.
  const proxyKind = [...input.cmdline.map(([k]) => k), ...fromCfg.keys()]
    .map((k) => (k === 'proxyjump' ? 'jump' : k === 'proxycommand' ? 'command' : undefined))
    .find(Boolean);
  let proxyCommand: string | undefined;
  let jumps: SshTarget[] = [];
  if (proxyKind === 'command') {
    const pc = get('proxycommand')!;
    if (pc.toLowerCase() !== 'none') proxyCommand = tokens(pc, t);
  } else if (proxyKind === 'jump') {
    const pj = get('proxyjump')!;
    if (pj.toLowerCase() !== 'none') {
      if ((input.depth ?? 0) > 8) throw new ConfigError(`${input.name}: ProxyJump chain too long (a loop?)`);
      // Each hop is resolved through the ssh config like OpenSSH does; hop i is reached through hop i-1.
      const hops = parseJump(pj);
      jumps = hops.map((h) =>
        resolve(
          {
            name: `${input.name} (jump ${h.host})`,
            dest: h.host,
            port: h.port,
            user: h.user,
            cmdline: [],
            configFile: input.configFile,
            become: false,
            becomeUser: 'root',
            depth: (input.depth ?? 0) + 1,
          },
          opts,
        ),
      );
      // A hop's own jumps come first.
      jumps = jumps.flatMap((j) => [...j.jumps, { ...j, jumps: [] }]);
    }
  }

  const identityFiles = all('identityfile').map((f) => expandTilde(tokens(f, t)));
  if (!identityFiles.length) {
    for (const f of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const p = join(homedir(), '.ssh', f);
      if (existsSync(p)) identityFiles.push(p);
    }
  }
  const knownHostsFiles = opts.knownHostsFile
    ? [opts.knownHostsFile]
    : (get('userknownhostsfile') ?? '~/.ssh/known_hosts ~/.ssh/known_hosts2').split(/\s+/).map((f) => expandTilde(tokens(f, t)));
  const global = get('globalknownhostsfile') ?? '/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2';
  const connectTimeout = Number(get('connecttimeout') ?? opts.connectTimeoutS ?? 10);
  if (!Number.isFinite(connectTimeout) || connectTimeout < 0) throw new ConfigError(`${input.name}: invalid ConnectTimeout '${get('connecttimeout')}'`);
  const aliveInterval = Number(get('serveraliveinterval') ?? 5) || 5;
  const aliveCount = Number(get('serveralivecountmax') ?? 3) || 3;
  const agent = get('identityagent');
  return {
    name: input.name,
    host,
    port,
    user,
    identityFiles,
    identitiesOnly: (get('identitiesonly') ?? 'no').toLowerCase() === 'yes',
    agentSocket: agent && agent.toLowerCase() !== 'none' ? expandTilde(agent === 'SSH_AUTH_SOCK' ? env.SSH_AUTH_SOCK ?? '' : agent) : agent?.toLowerCase() === 'none' ? undefined : env.SSH_AUTH_SOCK,
    proxyCommand,
    jumps,
    knownHostsFiles: [...knownHostsFiles, ...(opts.knownHostsFile ? [] : global.split(/\s+/))],
    hostKeyAlias: get('hostkeyalias'),
    hashKnownHosts: (get('hashknownhosts') ?? 'no').toLowerCase() === 'yes',
    hostKeyChecking: opts.hostKeyChecking ?? checkingFrom(get('stricthostkeychecking')) ?? 'strict',
    connectTimeoutMs: Math.max(1, connectTimeout) * 1000,
    connectRetries: opts.connectRetries ?? DEFAULT_CONNECT_RETRIES,
    keepaliveIntervalMs: aliveInterval * 1000,
    keepaliveCountMax: aliveCount,
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
