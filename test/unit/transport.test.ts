import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashHostName, hostFieldMatches, indexKnownHosts, keyTypeOfBlob, knownHostsName, knownKeyTypes, parseKnownHosts, verifyHostKey } from '../../src/transport/knownhosts.js';
import { lookupHost, parseSshConfig, shellWords } from '../../src/transport/sshconfig.js';
import { parseSshArgs, targetFor, clearSshConfigCache, type SshTarget } from '../../src/transport/target.js';
import { ConfigError } from '../../src/errors.js';
import { guessAccepted, hashForKeyAlgo, installFastPublicKeyAuth, installGuessedKeyExchange, installNoHostKeysProof, installPipelinedUserauth, kexinitFirstNames } from '../../src/transport/fastauth.js';
import { coalesceWrites } from '../../src/transport/coalesce.js';
import { ed25519Raw, installKeyObjects } from '../../src/transport/keyobjects.js';

/**
 * An ed25519 key pair made by OpenSSH's ssh-keygen (ssh2's own generator now and then writes a private
 * key its parser then refuses: "Malformed OpenSSH private key").
 */
function keyPair(): { private: string; public: string } {
  const d = mkdtempSync(join(tmpdir(), 'fmkey-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'k')]);
  return { private: readFileSync(join(d, 'k'), 'utf8'), public: readFileSync(join(d, 'k.pub'), 'utf8').split(' ').slice(0, 2).join(' ') };
}

function blob(type: string, body = 'key-material'): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from(body)]);
}

test('known_hosts: plain, lists, [host]:port, hashed, wildcards, negation, revoked', () => {
  const k1 = blob('ssh-ed25519', 'one');
  const k2 = blob('ssh-ed25519', 'two');
  const text = [
    '# comment',
    `robot-1,10.0.0.1 ssh-ed25519 ${k1.toString('base64')}`,
    `[10.0.0.2]:2222 ssh-ed25519 ${k2.toString('base64')}`,
    `${hashHostName('hashed.example')} ssh-ed25519 ${k1.toString('base64')}`,
    `*.fleet,!bad.fleet ssh-ed25519 ${k2.toString('base64')}`,
    `@revoked * ssh-ed25519 ${blob('ssh-ed25519', 'stolen').toString('base64')}`,
    `@cert-authority *.fleet ssh-ed25519 ${k1.toString('base64')}`,
  ].join('\n');
  const e = parseKnownHosts(text, 'kh');
  assert.equal(e.length, 6);
  assert.equal(keyTypeOfBlob(k1), 'ssh-ed25519');
  assert.equal(knownHostsName('10.0.0.2', 2222), '[10.0.0.2]:2222');
  assert.equal(knownHostsName('10.0.0.2', 22), '10.0.0.2');
  assert.equal(verifyHostKey(e, '10.0.0.1', k1).status, 'match');
  assert.equal(verifyHostKey(e, 'robot-1', k2).status, 'mismatch');
  assert.equal(verifyHostKey(e, '[10.0.0.2]:2222', k2).status, 'match');
  assert.equal(verifyHostKey(e, '10.0.0.2', k2).status, 'unknown', 'port 22 is another entry');
  assert.equal(verifyHostKey(e, 'hashed.example', k1).status, 'match');
  assert.equal(verifyHostKey(e, 'other.example', k1).status, 'unknown');
  assert.equal(verifyHostKey(e, 'a.fleet', k2).status, 'match');
  assert.equal(verifyHostKey(e, 'bad.fleet', k2).status, 'unknown');
  assert.equal(verifyHostKey(e, 'anything', blob('ssh-ed25519', 'stolen')).status, 'revoked');
  assert.ok(hostFieldMatches('|1|' + 'x'.repeat(28) + '=|' + 'y'.repeat(28) + '=', 'h') === false);
});

test('known_hosts index: every lookup answers as a scan of every line does', () => {
  const k = (s: string) => blob('ssh-ed25519', s);
  const lines = [
    `robot-1,10.0.0.1 ssh-ed25519 ${k('one').toString('base64')}`,
    `robot-1 ecdsa-sha2-nistp256 ${blob('ecdsa-sha2-nistp256', 'e').toString('base64')}`,
    `[10.0.0.2]:2222 ssh-ed25519 ${k('two').toString('base64')}`,
    `${hashHostName('hashed.example')} ssh-ed25519 ${k('one').toString('base64')}`,
    `*.fleet,!bad.fleet ssh-ed25519 ${k('two').toString('base64')}`,
    `a.fleet ssh-ed25519 ${k('three').toString('base64')}`,
    `robot-1 ssh-ed25519 ${k('other').toString('base64')}`,
    `@revoked * ssh-ed25519 ${k('stolen').toString('base64')}`,
    `@revoked robot-2 ssh-ed25519 ${k('two').toString('base64')}`,
    `@cert-authority *.fleet ssh-ed25519 ${k('one').toString('base64')}`,
    `r?bot-3 ssh-ed25519 ${k('q').toString('base64')}`,
  ];
  const e = parseKnownHosts(lines.join('\n'), 'kh');
  const idx = indexKnownHosts(e);
  const names = ['robot-1', '10.0.0.1', '[10.0.0.2]:2222', '10.0.0.2', 'hashed.example', 'a.fleet', 'bad.fleet', 'robot-2', 'robot-3', 'nobody'];
  const keys = ['one', 'two', 'three', 'other', 'stolen', 'q', 'none'].map(k);
  for (const n of names) {
    assert.deepEqual(knownKeyTypes(idx.candidates(n), n), knownKeyTypes(e, n), n);
    for (const key of keys) assert.deepEqual(verifyHostKey(idx.candidates(n), n, key), verifyHostKey(e, n, key), `${n} ${key.toString()}`);
  }
});

test('ssh_config: first obtained value wins, IdentityFile accumulates, negation, Match all', () => {
  const cfg = parseSshConfig(`
Host bastion
  HostName 203.0.113.5
  User ops
Host robot-* !robot-legacy
  User robot
  ProxyJump bastion
  IdentityFile ~/.ssh/robot_key
Host *
  User nobody
  IdentityFile ~/.ssh/id_ed25519
  ServerAliveInterval 10
Match host foo
  User never
`);
  const r = lookupHost(cfg, 'robot-7');
  assert.deepEqual(r.get('user'), ['robot']);
  assert.deepEqual(r.get('proxyjump'), ['bastion']);
  assert.equal(r.get('identityfile')!.length, 2);
  assert.deepEqual(lookupHost(cfg, 'robot-legacy').get('user'), ['nobody']);
  assert.deepEqual(lookupHost(cfg, 'bastion').get('hostname'), ['203.0.113.5']);
  assert.deepEqual(lookupHost(cfg, 'foo').get('user'), ['nobody'], 'Host * came first');
});

test('ssh_config Match blocks apply as in ssh -G; a criterion that cannot be evaluated is an error', () => {
  // The case that was silently weakened: a Match block before Host * that turns checking on.
  const cfg = parseSshConfig(`
Match host robot-* !user admin
  StrictHostKeyChecking yes
  UserKnownHostsFile ~/.ssh/fleet_known_hosts
Match originalhost cam-7
  HostName 10.1.2.3
Match host 10.1.2.*
  Port 2200
Match localuser ci
  IdentityFile ~/.ssh/ci_key
Host *
  StrictHostKeyChecking no
`);
  assert.deepEqual(lookupHost(cfg, 'robot-3').get('stricthostkeychecking'), ['yes']);
  assert.deepEqual(lookupHost(cfg, 'robot-3').get('userknownhostsfile'), ['~/.ssh/fleet_known_hosts']);
  assert.deepEqual(lookupHost(cfg, 'robot-3', { user: 'admin' }).get('stricthostkeychecking'), ['no'], 'negated criterion');
  assert.deepEqual(lookupHost(cfg, 'other').get('stricthostkeychecking'), ['no']);
  // `host` is matched after HostName substitution, `originalhost` before.
  assert.deepEqual(lookupHost(cfg, 'cam-7').get('port'), ['2200']);
  assert.deepEqual(lookupHost(cfg, 'cam-7', { localUser: 'ci' }).get('identityfile'), ['~/.ssh/ci_key']);
  assert.equal(lookupHost(cfg, 'cam-7', { localUser: 'me' }).get('identityfile'), undefined);
  for (const bad of ['Match exec "true"', 'Match final', 'Match canonical host x', 'Match all host x', 'Match host']) {
    assert.throws(() => parseSshConfig(`${bad}\n  User x\n`, 'cfg'), (e: Error) => e instanceof ConfigError && /^cfg:1: /.test(e.message), bad);
  }
});

test('shell words and ssh args', () => {
  assert.deepEqual(shellWords(`-o ProxyCommand="socat STDIO UNIX-CONNECT:/x/%h-%p" -o 'A=b c' x\\ y`), ['-o', 'ProxyCommand=socat STDIO UNIX-CONNECT:/x/%h-%p', '-o', 'A=b c', 'x y']);
  const a = parseSshArgs('-o StrictHostKeyChecking=no -J ops@bastion:2222 -F /etc/x -p 2200 -oConnectTimeout=3', 'x');
  assert.deepEqual(a.options, [['stricthostkeychecking', 'no'], ['proxyjump', 'ops@bastion:2222'], ['port', '2200'], ['connecttimeout', '3']]);
  assert.equal(a.configFile, '/etc/x');
  assert.throws(() => parseSshArgs('-R 8080:localhost:80', 'x'), ConfigError);
  assert.throws(() => parseSshArgs('-o "unterminated', 'x'), ConfigError);
});

test('target: inventory vars over ssh config; jump chains resolved through the config; tokens', () => {
  clearSshConfigCache();
  const d = mkdtempSync(join(tmpdir(), 'fmcfg-'));
  writeFileSync(
    join(d, 'config'),
    `Host 10.9.*
  ProxyCommand socat STDIO UNIX-CONNECT:/run/x/%h-%p
  UserKnownHostsFile ${d}/kh
Host hop1
  HostName 10.9.0.1
  User j1
Host hop2
  HostName 10.9.0.2
  ProxyJump hop1
Host far
  HostName 10.8.0.9
  ProxyJump hop2
  Port 2222
  StrictHostKeyChecking accept-new
`,
  );
  const t = targetFor('r1', { ansible_host: '10.9.0.7', ansible_user: 'robot', ansible_port: 22 }, { sshConfigFile: join(d, 'config') });
  assert.equal(t.proxyCommand, 'socat STDIO UNIX-CONNECT:/run/x/10.9.0.7-22');
  assert.deepEqual(t.knownHostsFiles.slice(0, 1), [`${d}/kh`]);
  assert.equal(t.hostKeyChecking, 'strict');
  const far = targetFor('far', {}, { sshConfigFile: join(d, 'config') });
  assert.equal(far.host, '10.8.0.9');
  assert.equal(far.port, 2222);
  assert.equal(far.hostKeyChecking, 'accept-new');
  // Host patterns match the alias given (hop1), not its HostName, as in OpenSSH: hops are reached directly,
  // hop2 through hop1.
  assert.deepEqual(far.jumps.map((j) => [j.host, j.user, Boolean(j.proxyCommand)]), [['10.9.0.1', 'j1', false], ['10.9.0.2', far.jumps[1]!.user, false]]);
  // -J on the command line (inventory) wins over the config's ProxyCommand for the target itself.
  const viaJ = targetFor('r2', { ansible_host: '10.9.0.8', ansible_ssh_common_args: `-F ${join(d, 'config')} -J hop1` }, {});
  assert.equal(viaJ.proxyCommand, undefined);
  assert.equal(viaJ.jumps.length, 1);
  const become = targetFor('r3', { ansible_host: '10.9.0.9', ansible_become: 'yes', ansible_become_user: 'admin' }, { becomePassword: 's3cret' });
  assert.deepEqual([become.become, become.becomeUser, become.becomePassword], [true, 'admin', 's3cret']);
});

test('one-round-trip key login is active with the locked ssh2; RSA signatures use the negotiated hash', () => {
  // If an ssh2 upgrade moves the internal it wraps, logins still work (one round trip slower) and this fails.
  assert.equal(installFastPublicKeyAuth(), true);
  assert.equal(installFastPublicKeyAuth(), true);
  assert.equal(hashForKeyAlgo('rsa-sha2-256'), 'sha256');
  assert.equal(hashForKeyAlgo('rsa-sha2-512'), 'sha512');
  assert.equal(hashForKeyAlgo('ssh-rsa'), 'sha1');
  assert.equal(hashForKeyAlgo(undefined), undefined);
  assert.equal(hashForKeyAlgo('ssh-ed25519'), undefined);
});

test('ssh errors are told as what they mean for the robot, from their typed fields (never their text)', async () => {
  const { classify, SshStreamError, installStreamErrors } = await import('../../src/transport/sshfailure.js');
  const { HostError } = await import('../../src/errors.js');
  const t: SshTarget = { name: 'r1', host: '10.0.0.5', port: 22, user: 'root', identityFiles: ['/k/id_ed25519'], identitiesOnly: true, jumps: [], knownHostsFiles: [], hostKeyChecking: 'strict', connectTimeoutMs: 10_000, connectRetries: 0, keepaliveIntervalMs: 5_000, keepaliveCountMax: 3, become: false, becomeUser: 'root' };
  // The messages are deliberately meaningless: only level, code, type and stage may decide.
  const typed = (fields: object) => Object.assign(new Error('zzz'), fields);
  const c = (e: Error, stage?: 'connecting' | 'connected' | 'channel') => classify(e, t, 10_000, stage);
  const auth = c(typed({ level: 'client-authentication' }));
  assert.equal(auth.kind, 'auth');
  assert.match(auth.message, /authentication failed for root@10\.0\.0\.5 \(keys tried: \/k\/id_ed25519\)/);
  // One ssh2 level, two meanings: before 'ready' the handshake timeout (a silent robot), after it the keepalive timeout.
  const handshake = c(typed({ level: 'client-timeout' }), 'connecting');
  assert.match(handshake.message, /no SSH answer from 10\.0\.0\.5:22 within 10 s/);
  assert.equal(handshake.detail?.silent, true);
  const keepalive = c(typed({ level: 'client-timeout' }), 'connected');
  assert.match(keepalive.message, /connection to 10\.0\.0\.5 lost \(no keepalive answer\)/);
  assert.equal(keepalive.detail?.silent, undefined);
  for (const e of [typed({ level: 'client-socket', code: 'ECONNREFUSED' }), typed({ level: 'client-dns' }), typed({ code: 'ETIMEDOUT' })]) {
    assert.match(c(e).message, /^cannot reach 10\.0\.0\.5:22: zzz/);
    assert.equal(c(e).detail?.silent, undefined);
  }
  assert.match(c(typed({ level: 'handshake' })).message, /^the SSH handshake with 10\.0\.0\.5:22 failed: zzz/);
  assert.match(c(typed({ level: 'protocol' })).message, /^SSH protocol error from 10\.0\.0\.5:22: zzz/);
  assert.match(c(typed({ code: 11 })).message, /^10\.0\.0\.5:22 ended the connection: zzz/);
  assert.match(c(typed({}), 'channel').message, /could not start a command/);
  const integrity = c(new SshStreamError(new Error('error:00000000:lib(0)::reason(0)')));
  assert.equal(integrity.kind, 'unreachable');
  assert.match(integrity.message, /failed its integrity check \(corrupted or reordered on the way\)/);
  // Text that once decided the kind no longer does: an untyped "authentication methods failed" is not auth.
  assert.equal(c(new Error('All configured authentication methods failed')).kind, 'unreachable');
  assert.doesNotMatch(c(new Error('Timed out while waiting for handshake')).message, /no SSH answer/);
  const own = new HostError('hostkey', 'changed');
  assert.equal(c(own), own);
  // ssh2's packet parser throws plain Errors; the installed wrapper makes them SshStreamErrors, typed ones pass.
  assert.equal(installStreamErrors(), true);
  const { default: Protocol } = (await import('ssh2/lib/protocol/Protocol.js')) as unknown as { default: { prototype: { parse: (this: object, b: Buffer, i: number, l: number) => void } } };
  const parse = Protocol.prototype.parse;
  const throwing = (err: Error) => ({ _parse: () => { throw err; } });
  assert.throws(() => parse.call(throwing(new Error('Invalid MAC')), Buffer.alloc(1), 0, 1), (e: Error) => e instanceof SshStreamError && e.message === 'Invalid MAC');
  const leveled = typed({ level: 'protocol' });
  assert.throws(() => parse.call(throwing(leveled), Buffer.alloc(1), 0, 1), (e: Error) => e === leveled);
});

test('an encrypted key file is told from its own header (OpenSSH, PEM, PKCS#8, PuTTY), not from ssh2\'s error text', async () => {
  const { isEncryptedKey } = await import('../../src/transport/keyfile.js');
  const d = mkdtempSync(join(tmpdir(), 'fmkeyenc-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pw', '-f', join(d, 'enc')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'plain')]);
  assert.equal(isEncryptedKey(readFileSync(join(d, 'enc'))), true);
  assert.equal(isEncryptedKey(readFileSync(join(d, 'plain'))), false);
  assert.equal(isEncryptedKey(Buffer.from('-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n')), true);
  assert.equal(isEncryptedKey(Buffer.from('-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n')), false);
  assert.equal(isEncryptedKey(Buffer.from('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n')), true);
  assert.equal(isEncryptedKey(Buffer.from('PuTTY-User-Key-File-2: ssh-rsa\nEncryption: aes256-cbc\nComment: x\n')), true);
  assert.equal(isEncryptedKey(Buffer.from('PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: x\n')), false);
  assert.equal(isEncryptedKey(Buffer.from('not a key')), false);
});

test('host and user names that could reach a shell through %h/%r are refused, wherever they come from', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ansible_ssh_common_args: '-o HostName=x;touch${IFS}/tmp/pwn' }, /host name .* could reach a shell/],
    [{ ansible_ssh_common_args: '-o "HostName=a b"' }, /host name "a b"/],
    [{ ansible_ssh_common_args: '-l $(id)' }, /user name "\$\(id\)"/],
    [{ ansible_ssh_common_args: '-o User=-oProxyCommand=x' }, /user name "-oProxyCommand=x"/],
    [{ ansible_ssh_common_args: '-o ConnectTimeout=soon' }, /invalid ConnectTimeout 'soon'/],
    [{ ansible_ssh_common_args: '-o Port=99999' }, /invalid port 99999/],
  ];
  for (const [vars, re] of bad) assert.throws(() => targetFor('r1', { ansible_host: '10.0.0.1', ...vars }), (e: Error) => e instanceof ConfigError && re.test(e.message), JSON.stringify(vars));
  assert.equal(targetFor('r1', { ansible_host: '10.0.0.1', ansible_ssh_common_args: '-o HostName=robot-1.fleet -l ops' }).host, 'robot-1.fleet');
});

test('one robot\'s bad ssh option is an input error (exit 5) before any robot is contacted', async () => {
  const { cli } = await import('../helpers/cli.js');
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  const marker = join(d, 'contacted');
  // Every robot would be reached through a ProxyCommand that leaves a marker: none may run.
  writeFileSync(
    join(d, 'hosts.yml'),
    `all:\n  vars:\n    ansible_ssh_common_args: "-o ProxyCommand='touch ${marker}; exit 1'"\n  hosts:\n    good-1:\n    good-2:\n    bad:\n      ansible_ssh_common_args: "-o Port=0"\n`,
  );
  const r = await cli(['apply', '-i', join(d, 'hosts.yml')]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /bad: invalid port 0/);
  const { existsSync } = await import('node:fs');
  assert.equal(existsSync(marker), false, 'no robot was contacted');
});

test('a templated task value that is wrong for its module is an input error before any robot is contacted', async () => {
  const { cli } = await import('../helpers/cli.js');
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  writeFileSync(join(d, 'hosts.yml'), 'all:\n  vars:\n    wait: 10m\n  hosts:\n    r1:\n      ansible_host: 192.0.2.1\n');
  writeFileSync(join(d, 'pb.yml'), '- hosts: all\n  serial: 1\n  tasks:\n    - name: reboot it\n      reboot:\n        timeout: "{{ wait }}"\n');
  const r = await cli(['play', join(d, 'pb.yml'), '-i', join(d, 'hosts.yml')]);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /play 'all', robot 'r1': task 'reboot it': invalid reboot timeout "10m" \(whole seconds from 1 to 86400\)/);
  assert.doesNotMatch(r.stderr, /task 'reboot it': task 'reboot it'/, 'the task is named once');
  // An error that does not name its task (an undefined variable) is given the task's name.
  writeFileSync(join(d, 'pb2.yml'), '- hosts: all\n  tasks:\n    - name: reboot it\n      reboot:\n        timeout: "{{ nowhere }}"\n');
  const u = await cli(['play', join(d, 'pb2.yml'), '-i', join(d, 'hosts.yml')]);
  assert.equal(u.code, 5, u.stderr);
  assert.match(u.stderr, /play 'all', robot 'r1': task 'reboot it': undefined variable 'nowhere'/);
});

test('the sudo password never reaches a ProxyCommand\'s environment', async () => {
  const { SshConnection } = await import('../../src/transport/ssh.js');
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  const envFile = join(d, 'env');
  // The proxy writes its environment whole (then renames it into place) and stays silent: the attempt
  // ends at its connect timeout, long after the file is there (no race with a proxy killed mid-write).
  const t = targetFor('r1', { ansible_host: '10.0.0.1', ansible_ssh_common_args: `-o ProxyCommand='sh -c "env > ${envFile}.tmp && mv ${envFile}.tmp ${envFile}; exec sleep 30"'` }, { becomePassword: 'hunter2-secret' });
  const saved = process.env.FLEETMASQ_BECOME_PASSWORD;
  process.env.FLEETMASQ_BECOME_PASSWORD = 'hunter2-secret';
  try {
    await assert.rejects(SshConnection.open({ ...t, connectTimeoutMs: 2000 }));
  } finally {
    if (saved === undefined) delete process.env.FLEETMASQ_BECOME_PASSWORD;
    else process.env.FLEETMASQ_BECOME_PASSWORD = saved;
  }
  const { readFileSync } = await import('node:fs');
  const env = readFileSync(envFile, 'utf8');
  assert.match(env, /PATH=/, 'the ProxyCommand ran');
  assert.doesNotMatch(env, /hunter2-secret/);
});

test('a jump host that ignores channel requests fails the robot within the connect timeout, no hang', async () => {
  const ssh2 = (await import('ssh2')).default;
  const { SshConnection } = await import('../../src/transport/ssh.js');
  const hostKey = keyPair();
  const clientKey = keyPair();
  // A jump host on loopback that accepts any login and never answers a request to open a channel.
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('ready', () => client.on('tcpip', () => {}));
    client.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  writeFileSync(join(d, 'kh'), `[127.0.0.1]:${port} ${hostKey.public}\n`);
  writeFileSync(join(d, 'id'), clientKey.private, { mode: 0o600 });
  try {
    const t = targetFor('r1', { ansible_host: '192.0.2.7', ansible_ssh_common_args: `-J jump@127.0.0.1:${port} -i ${join(d, 'id')}` }, { knownHostsFile: join(d, 'kh'), connectTimeoutS: 2 });
    const t0 = Date.now();
    await assert.rejects(SshConnection.open(t), /jump host did not open a channel to 192\.0\.2\.7:22 for r1 within 2 s/);
    assert.ok(Date.now() - t0 < 10_000);
  } finally {
    server.close();
  }
});

/** An ssh2 server that takes signed key logins only and answers any exec with 'hello\n', exit 0. */
async function helloServer(config: Record<string, unknown>): Promise<import('ssh2').Server> {
  const ssh2 = (await import('ssh2')).default;
  const server = new ssh2.Server({ hostKeys: [keyPair().private], ...config }, (client) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' && ctx.signature ? ctx.accept() : ctx.reject(['publickey'])));
    client.on('ready', () =>
      client.on('session', (accept) => accept().once('exec', (acc) => {
        const ch = acc();
        ch.end('hello\n');
        ch.exit(0);
      })),
    );
    client.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

/** Connects, runs one command ('x') and resolves with its output. */
function execOnce(c: import('ssh2').Client, config: import('ssh2').ConnectConfig): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    c.on('ready', () => c.exec('x', (err, ch) => {
      if (err) return reject(err);
      let o = '';
      ch.on('data', (d: Buffer) => (o += d)).on('close', () => resolve(o));
    }));
    c.on('error', reject);
    c.connect(config);
  });
}

test('the first authentication request goes in the same flight as the service request, and the login works', async () => {
  const ssh2 = (await import('ssh2')).default;
  const net = await import('node:net');
  assert.equal(installPipelinedUserauth(), true);
  assert.equal(installPipelinedUserauth(), true, 'idempotent');
  const clientKey = keyPair();
  const server = await helloServer({});
  // A link with 30 ms each way: the server's answer to the service request cannot come back before the
  // client's next turn of its event loop, so the order of the client's messages shows the pipelining.
  const hold = (from: import('node:net').Socket, to: import('node:net').Socket) => from.on('data', (d) => setTimeout(() => to.write(d), 30));
  const front = net.createServer((a) => {
    const b = net.connect((server.address() as { port: number }).port, '127.0.0.1');
    hold(a, b);
    hold(b, a);
    a.on('error', () => b.destroy());
    b.on('error', () => a.destroy());
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const log: string[] = [];
  const c = new ssh2.Client();
  try {
    const out = await execOnce(c, { host: '127.0.0.1', port: (front.address() as { port: number }).port, username: 'u', privateKey: clientKey.private, authHandler: ['publickey'], debug: (m: string) => log.push(m) });
    assert.equal(out, 'hello\n');
    const at = (re: RegExp) => log.findIndex((l) => re.test(l));
    assert.ok(at(/Outbound: Sending SERVICE_REQUEST/) >= 0, log.join('\n'));
    assert.ok(at(/Outbound: Sending USERAUTH_REQUEST/) > at(/Outbound: Sending SERVICE_REQUEST/));
    assert.ok(at(/Outbound: Sending USERAUTH_REQUEST/) < at(/Inbound: Received SERVICE_ACCEPT/), log.join('\n'));
    // The real answer was swallowed: authentication started once, with one signed request.
    assert.equal(log.filter((l) => /Outbound: Sending USERAUTH_REQUEST/.test(l)).length, 1, log.join('\n'));
  } finally {
    c.end();
    front.close();
    server.close();
  }
});

test('visible(): escape sequences and carriage returns from robots are shown, not obeyed', async () => {
  const { visible } = await import('../../src/cli/output.js');
  assert.equal(visible('wlan0\x1b]0;owned\x07\x1b[31mred\r\n\tok'), 'wlan0\\u001b]0;owned\\u0007\\u001b[31mred\\u000d\n\tok');
  assert.equal(visible('C1 \u009b31m'), 'C1 \\u009b31m');
  // A --json document with DEL and C1 characters in robot text stays valid JSON, and says the same.
  const doc = { stderr: 'a\x7fb\u0085c\x1b' };
  assert.deepEqual(JSON.parse(visible(JSON.stringify(doc))), doc);
  assert.equal(visible('plain ü €'), 'plain ü €');
});

test('ssh_config Include as OpenSSH reads it: conditional inside a block, the block resumes after it; Match sees command-line options', () => {
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  writeFileSync(join(d, 'fleet.conf'), 'Port 2200\nHost cam-*\n  User camops\n');
  const cfg = parseSshConfig(`Host robot-*\n  Include ${join(d, 'fleet.conf')}\n  StrictHostKeyChecking yes\nHost *\n  StrictHostKeyChecking no\n  User nobody\n`, join(d, 'config'));
  // The line after the Include still belongs to Host robot-*.
  assert.deepEqual(lookupHost(cfg, 'robot-1').get('stricthostkeychecking'), ['yes']);
  assert.deepEqual(lookupHost(cfg, 'robot-1').get('port'), ['2200']);
  // The included Host block applies only where the enclosing one does.
  assert.deepEqual(lookupHost(cfg, 'cam-1').get('user'), ['nobody']);
  assert.equal(lookupHost(cfg, 'cam-1').get('port'), undefined);
  const m = parseSshConfig('Match user ops\n  Port 2022\nMatch host 10.9.*\n  IdentityFile ~/.ssh/lab\n');
  const t = targetFor('r1', { ansible_host: 'r1.fleet', ansible_ssh_common_args: '-l ops -o HostName=10.9.0.4' });
  assert.equal(t.user, 'ops');
  assert.deepEqual(lookupHost(m, 'r1.fleet', { user: 'ops', hostName: '10.9.0.4' }).get('port'), ['2022']);
  assert.deepEqual(lookupHost(m, 'r1.fleet', { user: 'ops', hostName: '10.9.0.4' }).get('identityfile'), ['~/.ssh/lab']);
});

test('a robot that drops its first handshake but answers the next is not unreachable (connect retries)', async () => {
  const ssh2 = (await import('ssh2')).default;
  const { cli } = await import('../helpers/cli.js');
  const net = await import('node:net');
  const hostKey = keyPair();
  const clientKey = keyPair();
  // A robot on loopback whose link drops the first connection of each run (as a cellular link may):
  // then it logs anyone in and answers every command with nothing (so the facts fail: kind command).
  let connections = 0;
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('ready', () => client.on('session', (accept) => accept().on('exec', (acc) => { const ch = acc(); ch.exit(0); ch.end(); })));
    client.on('error', () => {});
  });
  const front = net.createServer((sock) => {
    if (connections++ % 2 === 0) return sock.destroy();
    server.injectSocket(sock);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const port = (front.address() as { port: number }).port;
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  writeFileSync(join(d, 'kh'), `[127.0.0.1]:${port} ${hostKey.public}\n`);
  writeFileSync(join(d, 'id'), clientKey.private, { mode: 0o600 });
  writeFileSync(join(d, 'hosts.yml'), `all:\n  hosts:\n    r1:\n      ansible_host: 127.0.0.1\n      ansible_port: ${port}\n      ansible_user: root\n      ansible_ssh_private_key_file: ${join(d, 'id')}\n`);
  try {
    const once = await cli(['check', '-i', join(d, 'hosts.yml'), '--known-hosts', join(d, 'kh'), '--connect-retries', '0', '--json'], { SSH_AUTH_SOCK: undefined });
    assert.equal(once.json.hosts.r1.error.kind, 'unreachable', 'no retry: the dropped handshake is final');
    assert.deepEqual(once.json.retry, ['r1'], 'and the robot is in the retry file');
    const retried = await cli(['check', '-i', join(d, 'hosts.yml'), '--known-hosts', join(d, 'kh'), '--json'], { SSH_AUTH_SOCK: undefined });
    assert.equal(retried.json.hosts.r1.error.kind, 'command', `connected on a retry (default 2), then the facts failed: ${JSON.stringify(retried.json.hosts.r1.error)}`);
  } finally {
    front.close();
    server.close();
  }
});

test('--until-converged: a robot that is offline when the run starts is done once it answers, within the deadline', async () => {
  const ssh2 = (await import('ssh2')).default;
  const net = await import('node:net');
  const { cli } = await import('../helpers/cli.js');
  const hostKey = keyPair();
  const clientKey = keyPair();
  // A free port, nobody listening on it yet: the robot is offline.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  writeFileSync(join(d, 'kh'), `[127.0.0.1]:${port} ${hostKey.public}\n`);
  writeFileSync(join(d, 'id'), clientKey.private, { mode: 0o600 });
  writeFileSync(join(d, 'hosts.yml'), `all:\n  hosts:\n    r1:\n      ansible_host: 127.0.0.1\n      ansible_port: ${port}\n      ansible_user: root\n      ansible_ssh_private_key_file: ${join(d, 'id')}\n`);
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('ready', () => client.on('session', (accept) => accept().on('exec', (acc) => { const ch = acc(); ch.exit(0); ch.end(); })));
    client.on('error', () => {});
  });
  // It comes online two seconds into the run.
  const online = setTimeout(() => server.listen(port, '127.0.0.1'), 2000);
  try {
    const base = ['check', '-i', join(d, 'hosts.yml'), '--known-hosts', join(d, 'kh'), '--connect-retries', '0', '--json'];
    const env = { SSH_AUTH_SOCK: undefined, FLEETMASQ_STORE: join(d, 'fm.db') };
    const r = await cli([...base, '--until-converged', '--deadline', '60s'], env);
    assert.equal(r.json.hosts.r1.error?.kind, 'command', `answered in a later round (then its facts failed): ${JSON.stringify(r.json.hosts.r1.error)}`);
    assert.match(r.stderr, /== 0 robot\(s\) done, 1 waiting \(unreachable\): next attempt in 5 s/);
    const { recordedResults } = await import('../helpers/store.js');
    const lines = await recordedResults(r.json.record, env);
    assert.deepEqual(lines.map((l) => l.status), ['unreachable', 'failed'], 'one record, every attempt in it');
  } finally {
    clearTimeout(online);
    server.close();
  }
  const bad = await cli(['check', '-i', join(d, 'hosts.yml'), '--deadline', '60s']);
  assert.equal(bad.code, 5);
  assert.match(bad.stderr, /--deadline goes with --until-converged/);
  const bad2 = await cli(['check', '-i', join(d, 'hosts.yml'), '--until-converged']);
  assert.match(bad2.stderr, /--until-converged needs --deadline D/);
});

test('a silent robot (no answer at all within the connect timeout) is tried once, holding its fork slot for one timeout only', async () => {
  const { cli } = await import('../helpers/cli.js');
  const net = await import('node:net');
  // Accepts the TCP connection and never says a word (a link that drops every packet after the proxy).
  let connections = 0;
  const socks: import('node:net').Socket[] = [];
  const front = net.createServer((sock) => {
    connections++;
    socks.push(sock);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const port = (front.address() as { port: number }).port;
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  writeFileSync(join(d, 'kh'), '');
  writeFileSync(join(d, 'hosts.yml'), `all:\n  hosts:\n    quiet:\n      ansible_host: 127.0.0.1\n      ansible_port: ${port}\n      ansible_user: root\n`);
  try {
    const r = await cli(['check', '-i', join(d, 'hosts.yml'), '--known-hosts', join(d, 'kh'), '--connect-timeout', '1', '--connect-retries', '3', '--json'], { SSH_AUTH_SOCK: undefined });
    assert.equal(r.json.hosts.quiet.error.kind, 'unreachable');
    assert.match(r.json.hosts.quiet.error.message, /no SSH answer from 127\.0\.0\.1:\d+ within 1 s/);
    assert.equal(connections, 1, 'not tried again: a silent robot waits for --until-converged, not in a fork slot');
  } finally {
    socks.forEach((s) => s.destroy());
    front.close();
  }
});

test('a robot that answers but whose handshake stalls is not silent: it is tried again', async () => {
  const { cli } = await import('../helpers/cli.js');
  const net = await import('node:net');
  let connections = 0;
  const socks: import('node:net').Socket[] = [];
  const front = net.createServer((sock) => {
    connections++;
    socks.push(sock);
    sock.write('SSH-2.0-OpenSSH_9.2p1 stalled\r\n'); // the banner, then nothing
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const port = (front.address() as { port: number }).port;
  const d = mkdtempSync(join(tmpdir(), 'fmtu-'));
  writeFileSync(join(d, 'kh'), '');
  writeFileSync(join(d, 'hosts.yml'), `all:\n  hosts:\n    slowhs:\n      ansible_host: 127.0.0.1\n      ansible_port: ${port}\n      ansible_user: root\n`);
  try {
    const r = await cli(['check', '-i', join(d, 'hosts.yml'), '--known-hosts', join(d, 'kh'), '--connect-timeout', '1', '--connect-retries', '1', '--json'], { SSH_AUTH_SOCK: undefined });
    assert.equal(r.json.hosts.slowhs.error.kind, 'unreachable');
    assert.match(r.json.hosts.slowhs.error.message, /answered, but the SSH handshake did not complete within 1 s/);
    assert.equal(connections, 2, 'tried again once (--connect-retries 1)');
  } finally {
    socks.forEach((s) => s.destroy());
    front.close();
  }
});

/**
 * A link that counts round trips without timing them: each round, everything the client has sent goes
 * to the server, the relay waits until the server has nothing more to say, then everything the server
 * sent goes to the client, and it waits until the client has nothing more to say. A reply the client
 * needs before its next message therefore costs one round. (Quiet = two timer turns with no data; a
 * slow machine only makes a round longer, not more numerous.)
 */
async function lockstepLink(serverPort: number): Promise<{ port: number; rounds: () => number; close: () => void }> {
  const net = await import('node:net');
  let rounds = 0;
  const front = net.createServer((a) => {
    const b = net.connect(serverPort, '127.0.0.1');
    const fromClient: Buffer[] = [];
    const fromServer: Buffer[] = [];
    let last = 0;
    let done = false;
    a.on('data', (d: Buffer) => {
      fromClient.push(d);
      last++;
    });
    b.on('data', (d: Buffer) => {
      fromServer.push(d);
      last++;
    });
    const quiet = async () => {
      for (let seen = -1; seen !== last; ) {
        seen = last;
        await new Promise((r) => setTimeout(r, 40));
        await new Promise((r) => setImmediate(r));
      }
    };
    const close = () => {
      done = true;
      a.destroy();
      b.destroy();
    };
    a.on('close', close).on('error', close);
    b.on('close', close).on('error', close);
    b.on('connect', async () => {
      await quiet();
      while (!done) {
        if (!fromClient.length && !fromServer.length) {
          await quiet();
          if (!fromClient.length && !fromServer.length) continue;
        }
        rounds++;
        b.write(Buffer.concat(fromClient.splice(0)));
        await quiet();
        a.write(Buffer.concat(fromServer.splice(0)));
        await quiet();
      }
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  return { port: (front.address() as { port: number }).port, rounds: () => rounds, close: () => front.close() };
}

/**
 * ssh2's server (1.17.0) ignores every guessed key-exchange packet (it compares the algorithm it picked
 * with the first character of the client's list). For these tests it decides as RFC 4253 §7 and OpenSSH
 * do instead: `takesGuess` says whether the scenario's lists make the client's guess right (the client
 * decides on its own, from the server's ident and KEXINIT), and the server then processes the guessed
 * packet, or ignores it as ssh2 and the RFC do for a wrong guess.
 */
async function execThroughLockstep(server: { algorithms?: Record<string, string[]>; ident?: string; takesGuess: boolean }): Promise<{ out: string; rounds: number; log: string[] }> {
  const ssh2 = (await import('ssh2')).default;
  const Protocol = (await import('ssh2/lib/protocol/Protocol.js')).default as { prototype: object };
  const skip = Symbol('skip');
  Object.defineProperty(Protocol.prototype, '_skipNextInboundPacket', {
    configurable: true,
    get(this: { [skip]?: boolean }) {
      return this[skip] ?? false;
    },
    set(this: { [skip]?: boolean; _server?: boolean }, v: boolean) {
      this[skip] = v && this._server && server.takesGuess ? false : v;
    },
  });
  const clientKey = keyPair();
  const srv = await helloServer({ ...(server.algorithms ? { algorithms: server.algorithms } : {}), ...(server.ident ? { ident: server.ident } : {}) });
  const link = await lockstepLink((srv.address() as { port: number }).port);
  const log: string[] = [];
  const c = new ssh2.Client();
  try {
    const out = await execOnce(c, {
      host: '127.0.0.1',
      port: link.port,
      username: 'u',
      privateKey: clientKey.private,
      authHandler: ['publickey'],
      // fleetmasq's order (src/transport/ssh.ts): OpenSSH's name for curve25519 first.
      algorithms: { kex: ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256'] as never },
      debug: (m: string) => log.push(m),
    });
    return { out, rounds: link.rounds(), log };
  } finally {
    c.end();
    link.close();
    srv.close();
    delete (Protocol.prototype as { _skipNextInboundPacket?: unknown })._skipNextInboundPacket;
  }
}

test('a check is four round trips: the key exchange is guessed (curve25519-sha256) and its packet sent with the KEXINIT', async () => {
  assert.equal(installFastPublicKeyAuth(), true);
  assert.equal(installPipelinedUserauth(), true);
  assert.equal(installGuessedKeyExchange(), true);
  assert.equal(installGuessedKeyExchange(), true, 'idempotent');
  // A server that prefers what OpenSSH 7.4 to 8.9 prefer: curve25519-sha256, and its one host key type.
  const r = await execThroughLockstep({ ident: 'OpenSSH_8.9p1', algorithms: { kex: ['curve25519-sha256', 'ecdh-sha2-nistp256'] }, takesGuess: true });
  assert.equal(r.out, 'hello\n');
  assert.ok(r.log.some((l) => /guessed key exchange taken by the server/.test(l)), r.log.join('\n'));
  // Key exchange, login (service + signed request), channel, exec: four rounds, one each.
  assert.equal(r.rounds, 4, r.log.join('\n'));
  // One key-exchange packet: the guessed one (a second KEXINIT would have failed the login: ssh2's server
  // refuses an extra KEXINIT during a key exchange).
  assert.deepEqual(r.log.filter((l) => /Outbound: Sending KEXECDH_INIT/.test(l)), ['Outbound: Sending KEXECDH_INIT (guessed)']);
});

test('a wrong key-exchange guess is ignored by the server and the exchange runs as before (five round trips)', async () => {
  assert.equal(installGuessedKeyExchange(), true);
  // The server cannot do the guessed algorithm.
  let r = await execThroughLockstep({ ident: 'OpenSSH_8.9p1', algorithms: { kex: ['ecdh-sha2-nistp256'] }, takesGuess: false });
  assert.equal(r.out, 'hello\n');
  assert.ok(r.log.some((l) => /KEX algorithm: ecdh-sha2-nistp256/.test(l)), r.log.join('\n'));
  assert.equal(r.rounds, 5, r.log.join('\n'));
  // OpenSSH 9.x: its first is another algorithm (sntrup761x25519 there), curve25519-sha256 is agreed all the same.
  r = await execThroughLockstep({ ident: 'OpenSSH_9.2p1', algorithms: { kex: ['ecdh-sha2-nistp256', 'curve25519-sha256'] }, takesGuess: false });
  assert.equal(r.out, 'hello\n');
  assert.ok(r.log.some((l) => /KEX algorithm: curve25519-sha256$/.test(l)), r.log.join('\n'));
  assert.ok(r.log.some((l) => /guessed key exchange ignored by the server: sending it again/.test(l)), r.log.join('\n'));
  assert.equal(r.rounds, 5, r.log.join('\n'));
  // ssh2's own server, as it is.
  r = await execThroughLockstep({ takesGuess: false });
  assert.equal(r.out, 'hello\n');
  assert.equal(r.rounds, 5, r.log.join('\n'));
});

test('guess rules: OpenSSH takes the guess only when both first key exchange and host key algorithms match', () => {
  const kexinit = (kex: string, hostKey: string) => {
    const lists = [kex, hostKey, 'aes128-gcm@openssh.com', 'aes128-gcm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-256', 'none', 'none', '', ''];
    const parts = [Buffer.from([20]), Buffer.alloc(16)];
    for (const l of lists) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(l.length);
      parts.push(len, Buffer.from(l));
    }
    parts.push(Buffer.alloc(5));
    return Buffer.concat(parts);
  };
  const openssh92 = kexinit('sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org', 'ssh-ed25519');
  assert.deepEqual(kexinitFirstNames(openssh92, 2), ['sntrup761x25519-sha512@openssh.com', 'ssh-ed25519']);
  const base = { serverIdent: 'SSH-2.0-OpenSSH_9.2p1 Debian-2', ourKex: 'curve25519-sha256', ourHostKey: 'ssh-ed25519' };
  assert.equal(guessAccepted({ ...base, serverKexinit: openssh92 }), false);
  assert.equal(guessAccepted({ ...base, serverKexinit: kexinit('curve25519-sha256,ecdh-sha2-nistp256', 'ssh-ed25519') }), true);
  assert.equal(guessAccepted({ ...base, serverKexinit: kexinit('curve25519-sha256', 'rsa-sha2-512,rsa-sha2-256,ssh-ed25519') }), false);
  assert.equal(guessAccepted({ ...base, serverIdent: 'SSH-2.0-ssh2js1.17.0', serverKexinit: kexinit('curve25519-sha256', 'ssh-ed25519') }), false, "ssh2's server ignores every guess");
  assert.equal(kexinitFirstNames(Buffer.from([20, 1, 2]), 2), undefined);
});

test('ssh2 is pinned to the exact version the transport patches are written for, and they apply to it', async () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
  const { createRequire } = await import('node:module');
  const installed = (createRequire(import.meta.url)('ssh2/package.json') as { version: string }).version;
  assert.match(pkg.dependencies.ssh2!, /^\d+\.\d+\.\d+$/, 'an exact version, no range');
  assert.equal(installed, pkg.dependencies.ssh2);
  assert.equal(installFastPublicKeyAuth(), true);
  assert.equal(installPipelinedUserauth(), true);
  assert.equal(installGuessedKeyExchange(), true);
  assert.equal(installNoHostKeysProof(), true);
  assert.equal(installKeyObjects(), true);
});

test('keys decoded once: ssh2 keys sign and verify as before, for every key type ssh-keygen makes', async () => {
  const ssh2 = (await import('ssh2')).default;
  const { verify } = await import('node:crypto');
  type Key = { sign(d: Buffer, algo?: string): Buffer | Error; verify(d: Buffer, s: Buffer, algo?: string): boolean | Error; getPublicPEM(): string };
  assert.equal(installKeyObjects(), true);
  const d = mkdtempSync(join(tmpdir(), 'fmkeys-'));
  // [type, ssh-keygen bits, [algorithm asked for, the hash it means]]: undefined is the key's own default.
  const cases: [string, string[], [string | undefined, string | null][]][] = [
    ['ed25519', [], [[undefined, null]]],
    ['rsa', ['-b', '2048'], [[undefined, 'sha1'], ['sha256', 'sha256'], ['sha512', 'sha512']]],
    ['ecdsa', ['-b', '256'], [[undefined, 'sha256']]],
    ['ecdsa', ['-b', '521'], [[undefined, 'sha512']]],
  ];
  const data = Buffer.from('the exchange hash');
  for (const [type, bits, algos] of cases) {
    const f = join(d, `${type}${bits.join('')}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-f', f]);
    const priv = ssh2.utils.parseKey(readFileSync(f)) as unknown as Key;
    const pub = ssh2.utils.parseKey(readFileSync(`${f}.pub`)) as unknown as Key;
    for (const [algo, hash] of algos) {
      const what = `${type}${bits.join('')} ${algo ?? 'default'}`;
      const sig = priv.sign(data, algo);
      assert.ok(Buffer.isBuffer(sig), `${what}: ${String(sig)}`);
      // The oracle: node's crypto with the PEM text, which is what ssh2's own methods call.
      assert.equal(verify(hash, data, pub.getPublicPEM(), sig), true, `${what}: a signature ssh2's way accepts`);
      assert.equal(pub.verify(data, sig, algo), true, `${what}: verified`);
      assert.equal(pub.verify(Buffer.from('another hash'), sig, algo), false, `${what}: another hash fails`);
      assert.equal(priv.sign(data, algo) instanceof Error, false, `${what}: a second signature with the kept key`);
    }
  }
  // A public key cannot sign; a corrupt signature is false or an Error, never a throw.
  const pub = ssh2.utils.parseKey(readFileSync(join(d, 'ed25519.pub'))) as unknown as Key;
  // An ed25519 signature offered under a hash's name (as for rsa-sha2-256) is refused, as ssh2 refuses it.
  const edSig = (ssh2.utils.parseKey(readFileSync(join(d, 'ed25519'))) as unknown as Key).sign(data) as Buffer;
  assert.equal(pub.verify(data, edSig), true);
  for (const algo of ['sha256', 'sha512', 'sha1']) assert.notEqual(pub.verify(data, edSig, algo), true, algo);
  assert.ok(pub.sign(data) instanceof Error);
  const bad = pub.verify(data, Buffer.alloc(3));
  assert.ok(bad === false || bad instanceof Error);
});

test('an ed25519 key in SSH wire form gives its 32 raw bytes; anything else gives nothing', () => {
  const key = Buffer.alloc(32, 7);
  const wire = Buffer.concat([blob('ssh-ed25519', ''), Buffer.from([0, 0, 0, 32]), key]);
  assert.ok(ed25519Raw(wire)?.equals(key));
  assert.equal(ed25519Raw(wire.subarray(0, wire.length - 1)), undefined);
  assert.equal(ed25519Raw(Buffer.concat([blob('ssh-ed25519', ''), Buffer.from([0, 0, 0, 31]), key.subarray(1), Buffer.from([0])])), undefined);
  assert.equal(ed25519Raw(Buffer.concat([blob('ssh-ed25519', ''), Buffer.from([0, 0, 0, 32]), key]).fill(0x41, 4, 15)), undefined, 'another type name');
  assert.equal(ed25519Raw(undefined), undefined);
});

test("the host keys a server announces after the login are not proven; other global requests still reach ssh2", async () => {
  const ssh2 = (await import('ssh2')).default;
  assert.equal(installNoHostKeysProof(), true);
  assert.equal(installNoHostKeysProof(), true, 'idempotent');
  assert.equal(installPipelinedUserauth(), true, "the pipelined login's wrapper is still seen in the chain");
  const clientKey = keyPair();
  const server = await helloServer({});
  const c = new ssh2.Client();
  try {
    await new Promise<void>((resolve, reject) => {
      c.on('ready', () => resolve()).on('error', reject);
      c.connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, username: 'u', privateKey: clientKey.private, hostVerifier: () => true });
    });
    const internals = c as unknown as { _remoteVer: string; _callbacks: unknown[]; _protocol: { _handlers: { GLOBAL_REQUEST: (p: unknown, name: string, wantReply: boolean, data: unknown) => void }; openssh_hostKeysProve: (keys: unknown) => void } };
    // As if the server were OpenSSH, which ssh2 asks to prove what it announces.
    internals._remoteVer = 'OpenSSH_9.2p1';
    const proto = internals._protocol;
    const asked: unknown[] = [];
    proto.openssh_hostKeysProve = (keys) => asked.push(keys);
    let events = 0;
    c.on('hostkeys', () => events++);
    const announced = [Buffer.from(clientKey.public.split(' ')[1]!, 'base64')];
    proto._handlers.GLOBAL_REQUEST(proto, 'hostkeys-00@openssh.com', false, announced);
    assert.deepEqual(asked, [], 'no proof asked for');
    assert.equal(internals._callbacks.length, 0, 'no reply awaited');
    // The same request asking for a reply (OpenSSH never does) is ssh2's own: it asks for the proof.
    proto._handlers.GLOBAL_REQUEST(proto, 'hostkeys-00@openssh.com', true, announced);
    assert.equal(asked.length, 1, "ssh2's handler still gets what is not the plain announcement");
    assert.equal(events, 0);
  } finally {
    c.end();
    server.close();
  }
});

test('the writes of one tick on a robot socket go out together, in order, in one writev', async () => {
  const net = await import('node:net');
  const got: Buffer[] = [];
  const server = net.createServer((s) => s.on('data', (d) => got.push(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sock = coalesceWrites(net.connect((server.address() as { port: number }).port, '127.0.0.1'));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const calls: number[] = [];
  const internals = sock as unknown as { _writev: (chunks: unknown[], cb: () => void) => void; _write: (c: unknown, e: unknown, cb: () => void) => void };
  const writev = internals._writev.bind(sock);
  const write1 = internals._write.bind(sock);
  internals._writev = (chunks, cb) => (calls.push(chunks.length), writev(chunks, cb));
  internals._write = (c, e, cb) => (calls.push(1), write1(c, e, cb));
  sock.write('one ');
  sock.write('two ');
  sock.write('three');
  assert.deepEqual(calls, [], 'nothing sent before the tick ends');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [3], 'one writev of the three');
  sock.write('four');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [3, 1], 'a later tick: its own write');
  sock.end();
  await new Promise((r) => setTimeout(r, 50));
  server.close();
  assert.equal(Buffer.concat(got).toString(), 'one two threefour');
});
