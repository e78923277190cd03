/** Issue 3 acceptance on lab robots: proxies, bastion, sudo, host keys, timeouts, validation before contact. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { labLink, labSsh, type LabState } from '../../lab/lab.js';
import { recordedResults, recordOf } from '../helpers/store.js';
import { cli } from '../helpers/cli.js';
import { canRunLab, specFile, sshOut, useLab } from '../helpers/lab.js';

const { lab } = canRunLab ? useLab(specFile('test/fixtures/transport-fleet.yml', 'ttrans')) : { lab: () => undefined as never };
const opts = { skip: !canRunLab && 'needs root', timeout: 120_000 };
const tmp = () => mkdtempSync(join(tmpdir(), 'fmt-'));
const pw = (l: LabState) => l.robots.find((r) => r.name === 'sudopw')!.becomePassword!;

test('robots through ProxyCommand, a ProxyJump bastion, sudo with and without a password', opts, async () => {
  const l = lab();
  const r = await cli(['check', '-i', l.paths.inventory, '-l', 'all:!quiet', '--json'], { FLEETMASQ_BECOME_PASSWORD: pw(l) });
  for (const h of ['plain', 'sudoer', 'sudopw', 'jump', 'behind']) {
    assert.equal(r.json.hosts[h].error, null, `${h}: ${JSON.stringify(r.json.hosts[h].error)}`);
    assert.match(r.json.hosts[h].details.bootId, /^[0-9a-f-]{36}$/);
  }
  // The bastion-only robot really is only reachable through the bastion.
  assert.match(readFileSync(l.paths.inventory, 'utf8'), /-J root@10\.77\.0\.13/);
  // Without the password, the password robot fails with kind `become`; the others are unaffected.
  const nopw = await cli(['check', '-i', l.paths.inventory, '-l', 'sudopw:sudoer', '--json'], { FLEETMASQ_BECOME_PASSWORD: undefined });
  assert.equal(nopw.json.hosts.sudopw.error.kind, 'become');
  assert.match(nopw.json.hosts.sudopw.error.message, /needs a password/);
  assert.equal(nopw.json.hosts.sudoer.error, null);
  const wrong = await cli(['check', '-i', l.paths.inventory, '-l', 'sudopw', '--json'], { FLEETMASQ_BECOME_PASSWORD: 'not-it' });
  assert.equal(wrong.json.hosts.sudopw.error.kind, 'become');
  assert.doesNotMatch(wrong.stdout + wrong.stderr, /not-it/, 'the password never appears in output');
});

test('a changed host key is refused and nothing runs; unknown keys: strict refuses, accept-new records', opts, async () => {
  const l = lab();
  const d = tmp();
  const kh = readFileSync(l.paths.knownHosts, 'utf8').split('\n');
  const plain = l.robots.find((r) => r.name === 'plain')!;
  const other = l.robots.find((r) => r.name === 'sudoer')!;
  // plain's entry now carries another robot's key: a changed key.
  const changed = kh.map((line) => (line.startsWith(`${plain.address} `) ? `${plain.address} ${other.hostKey.split(' ').slice(0, 2).join(' ')}` : line));
  writeFileSync(join(d, 'changed'), changed.join('\n'));
  const r = await cli(['apply', '-i', l.paths.inventory, '-l', 'plain', '--known-hosts', join(d, 'changed'), '--json']);
  assert.equal(r.code, 6, 'a refused host key has its own exit code, not "unreachable"');
  assert.equal(r.json.hosts.plain.error.kind, 'hostkey');
  assert.match(r.json.hosts.plain.error.message, /HOST KEY CHANGED/);
  assert.doesNotMatch(await sshOut(l, 'plain', 'iptables -w -t nat -S POSTROUTING'), /MASQUERADE/, 'nothing ran on it');
  assert.equal(await sshOut(l, 'plain', 'test -e /etc/systemd/system/fleetmasq-masquerade.service && echo yes || echo no'), 'no\n');

  writeFileSync(join(d, 'empty'), '');
  const strict = await cli(['check', '-i', l.paths.inventory, '-l', 'plain', '--known-hosts', join(d, 'empty'), '--json']);
  assert.equal(strict.json.hosts.plain.error.kind, 'hostkey');
  assert.match(strict.json.hosts.plain.error.message, /not known/);
  const accept = await cli(['check', '-i', l.paths.inventory, '-l', 'plain', '--known-hosts', join(d, 'empty'), '--host-key-checking', 'accept-new', '--json']);
  assert.equal(accept.json.hosts.plain.error, null);
  assert.equal(readFileSync(join(d, 'empty'), 'utf8').trim(), `${plain.address} ${plain.hostKey.split(' ').slice(0, 2).join(' ')}`);
  // Recorded: strict mode now accepts it.
  const after = await cli(['check', '-i', l.paths.inventory, '-l', 'plain', '--known-hosts', join(d, 'empty'), '--json']);
  assert.equal(after.json.hosts.plain.error, null);
});

test('a robot where nothing answers fails within the connect timeout while the others finish', opts, async () => {
  const l = lab();
  await labLink(l, 'quiet', { stall: true });
  try {
    const t0 = Date.now();
    const r = await cli(['check', '-i', l.paths.inventory, '-l', 'quiet:plain:sudoer', '--connect-timeout', '3', '--json']);
    const took = Date.now() - t0;
    assert.equal(r.json.hosts.quiet.status, 'unreachable');
    assert.equal(r.json.hosts.quiet.error.kind, 'unreachable');
    assert.match(r.json.hosts.quiet.error.message, /within 3 s/);
    assert.equal(r.json.hosts.plain.error, null);
    assert.equal(r.json.hosts.sudoer.error, null);
    assert.equal(r.code, 2, 'plain and sudoer are non-compliant (nothing applied), so 2 wins over 4');
    assert.ok(took < 60_000, `no hang (${took} ms)`);
  } finally {
    await labLink(l, 'quiet', { stall: false });
  }
});

test('a link that dies mid-run fails that robot only, with kind unreachable, and never crashes', opts, async () => {
  const l = lab();
  const d = tmp();
  // A command that runs long enough for the link to be cut under it.
  const book = join(d, 'reboot.yml');
  writeFileSync(book, stringify([{ name: 'x', hosts: 'quiet:plain', tasks: [{ reboot: { timeout: 30, force: true } }] }]));
  setTimeout(() => void labLink(l, 'quiet', { drop: true, stall: true }), 300);
  try {
    const r = await cli(['play', book, '-i', l.paths.inventory, '--json']);
    assert.ok(['unreachable', 'failed'].includes(r.json.hosts.quiet.status), JSON.stringify(r.json.hosts.quiet));
    assert.ok(['unreachable', 'reboot-timeout'].includes(r.json.hosts.quiet.error.kind));
    assert.equal(r.json.hosts.plain.error, null, JSON.stringify(r.json.hosts.plain.error));
  } finally {
    await labLink(l, 'quiet', { stall: false });
  }
});

function invFile(d: string, text: string, extra: Record<string, string> = {}): string {
  for (const [f, c] of Object.entries(extra)) writeFileSync(join(d, f), c);
  writeFileSync(join(d, 'hosts.yml'), text);
  return join(d, 'hosts.yml');
}

test('broken YAML, a schema error and an injection attempt exit 5 with file:line:col, contacting nobody', opts, async () => {
  const l = lab();
  const d = tmp();
  const marker = join(d, 'contacted');
  const plain = l.robots.find((r) => r.name === 'plain')!;
  // Any contact would run this ProxyCommand, which leaves a marker file.
  const host = `    plain:\n      ansible_host: ${plain.address}\n      ansible_ssh_common_args: -o ProxyCommand="sh -c 'touch ${marker}; exec socat STDIO UNIX-CONNECT:${l.paths.sockDir}/%h-%p'" -o UserKnownHostsFile=${l.paths.knownHosts}\n      ansible_ssh_private_key_file: ${l.paths.key}\n`;
  const cases: [string, string, RegExp][] = [
    ['broken YAML', `all:\n  hosts:\n${host}    bad: [unclosed\n`, /hosts\.yml:\d+:\d+: invalid YAML/],
    ['schema error', `all:\n  hosts:\n${host}    other:\n      masquerade_interfaces: wlan0\n`, /hosts\.yml:\d+:7: unknown variable 'masquerade_interfaces'/],
    ['injection', `all:\n  hosts:\n${host}    evil:\n      masquerade_interface: "wlan0; reboot"\n`, /hosts\.yml:\d+:\d+: invalid value "wlan0; reboot" for 'masquerade_interface'/],
  ];
  for (const [what, text, re] of cases) {
    const r = await cli(['apply', '-i', invFile(d, text)]);
    assert.equal(r.code, 5, `${what}: ${r.stderr}`);
    assert.match(r.stderr, re, what);
  }
  // A near miss of a variable fleetmasq uses is a warning (dynamic inventories), an error with --strict-vars.
  const near = invFile(d, `all:\n  hosts:\n${host}    other:\n      ansible_prot: 22\n`);
  const strict = await cli(['apply', '-i', near, '--strict-vars']);
  assert.equal(strict.code, 5, strict.stderr);
  assert.match(strict.stderr, /hosts\.yml:\d+:7: unknown variable 'ansible_prot' \(did you mean 'ansible_port'\?\)/);
  // An injection through a flag and a bad playbook: same.
  const good = invFile(d, `all:\n  hosts:\n${host}`);
  assert.equal((await cli(['apply', '-i', good, '--interface', 'eth0$(reboot)'])).code, 5);
  writeFileSync(join(d, 'bad.yml'), '- hosts: all\n  tasks:\n    - masquerade: {}\n      become_user: x\n');
  const pb = await cli(['play', join(d, 'bad.yml'), '-i', good]);
  assert.equal(pb.code, 5);
  assert.match(pb.stderr, /bad\.yml:4:7: unknown task key/);
  assert.equal((await cli(['check', '-i', good, '-l', 'nosuchrobot'])).code, 5);
  assert.equal(existsSync(marker), false, 'no robot was contacted');
  // And the same inventory, valid, does contact the robot (so the marker proves something).
  const ok = await cli(['check', '-i', good]);
  assert.notEqual(ok.code, 5, ok.stderr);
  assert.equal(existsSync(marker), true);
});

test('a stalled link mid-command is noticed by keepalives (unreachable), not left hanging', opts, async () => {
  const { targetFor } = await import('../../src/transport/target.js');
  const { SshConnection } = await import('../../src/transport/ssh.js');
  const { loadInventory, hostVars } = await import('../../src/inventory/inventory.js');
  const l = lab();
  const inv = loadInventory(l.paths.inventory);
  const conn = await SshConnection.open(targetFor('quiet', hostVars(inv, 'quiet')));
  try {
    assert.equal((await conn.exec('echo up')).stdout, 'up\n');
    await labLink(l, 'quiet', { stall: true });
    await assert.rejects(conn.exec('sleep 1; echo never', { timeoutMs: 120_000 }), (e: Error & { kind?: string }) => {
      assert.equal(e.kind, 'unreachable', e.message);
      return true;
    });
  } finally {
    conn.dispose();
    await labLink(l, 'quiet', { stall: false });
  }
});

/** ssh args reaching a lab robot straight through its relay socket, keys from anywhere (agent too). */
const viaRelayArgs = (l: LabState) =>
  `-o ProxyCommand="socat STDIO UNIX-CONNECT:${l.paths.sockDir}/%h-%p" -o UserKnownHostsFile=${l.paths.knownHosts} -o IdentitiesOnly=no`;

/** An ssh-agent on DIR/agent.sock holding KEY. */
async function startAgent(dir: string, key: string): Promise<{ stop: () => void }> {
  const { run } = await import('../../src/util/proc.js');
  const agent = await run('ssh-agent', ['-s', '-a', join(dir, 'agent.sock')]);
  const stop = () => process.kill(Number(/SSH_AGENT_PID=(\d+)/.exec(agent.stdout)![1]!));
  try {
    await run('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: join(dir, 'agent.sock') } });
  } catch (e) {
    stop();
    throw e;
  }
  return { stop };
}

test('ssh-agent through SSH_AUTH_SOCK; a two-hop ProxyJump chain', opts, async () => {
  const l = lab();
  const d = tmp();
  const plain = l.robots.find((r) => r.name === 'plain')!;
  const jump = l.robots.find((r) => r.name === 'jump')!;
  const behind = l.robots.find((r) => r.name === 'behind')!;
  const common = viaRelayArgs(l);
  writeFileSync(
    join(d, 'hosts.yml'),
    stringify({
      all: {
        hosts: {
          agentonly: { ansible_host: plain.address, ansible_user: 'root', ansible_ssh_common_args: common },
          twohops: { ansible_host: behind.address, ansible_user: 'root', ansible_ssh_private_key_file: l.paths.key, ansible_ssh_common_args: `-F ${l.paths.sshConfig} -J root@${plain.address},root@${jump.address}` },
        },
      },
    }),
  );
  const agent = await startAgent(d, l.paths.key);
  try {
    const withAgent = await cli(['check', '-i', join(d, 'hosts.yml'), '--json'], { SSH_AUTH_SOCK: join(d, 'agent.sock'), HOME: d });
    assert.equal(withAgent.json.hosts.agentonly.error, null, JSON.stringify(withAgent.json.hosts.agentonly.error));
    assert.equal(withAgent.json.hosts.twohops.error, null, JSON.stringify(withAgent.json.hosts.twohops.error));
    const noAgent = await cli(['check', '-i', join(d, 'hosts.yml'), '-l', 'agentonly', '--json'], { SSH_AUTH_SOCK: undefined, HOME: d });
    assert.equal(noAgent.json.hosts.agentonly.error.kind, 'auth');
  } finally {
    agent.stop();
  }
});

test('a key login takes one round trip (signed request first); a refused key still falls through to the agent', opts, async () => {
  const l = lab();
  const { run } = await import('../../src/util/proc.js');
  const d = tmp();
  const plain = l.robots.find((r) => r.name === 'plain')!;
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, 'stranger')]);
  // An RSA key too: its signed request must use the hash of the algorithm the server allows (rsa-sha2-*).
  await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(d, 'rsa')]);
  await labSsh(l, 'plain', `cat >> /root/.ssh/authorized_keys`, { input: readFileSync(join(d, 'rsa.pub'), 'utf8') });
  const common = viaRelayArgs(l);
  writeFileSync(
    join(d, 'hosts.yml'),
    stringify({
      all: {
        hosts: {
          keyfile: { ansible_host: plain.address, ansible_user: 'root', ansible_ssh_private_key_file: l.paths.key, ansible_ssh_common_args: common },
          rsakey: { ansible_host: plain.address, ansible_user: 'root', ansible_ssh_private_key_file: join(d, 'rsa'), ansible_ssh_common_args: common },
          strangerfirst: { ansible_host: plain.address, ansible_user: 'root', ansible_ssh_private_key_file: join(d, 'stranger'), ansible_ssh_common_args: common },
        },
      },
    }),
  );
  const agent = await startAgent(d, l.paths.key);
  // The transport's protocol trace (FLEETMASQ_SSH_DEBUG) goes to the process's stderr.
  let trace = '';
  const write = process.stderr.write.bind(process.stderr);
  try {
    (process.stderr as { write: unknown }).write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
      trace += String(chunk);
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    };
    const r = await cli(['check', '-i', join(d, 'hosts.yml'), '--json'], { SSH_AUTH_SOCK: join(d, 'agent.sock'), HOME: d, FLEETMASQ_SSH_DEBUG: '1' });
    (process.stderr as { write: unknown }).write = write;
    assert.equal(r.json.hosts.keyfile.error, null, JSON.stringify(r.json.hosts.keyfile.error));
    assert.equal(r.json.hosts.rsakey.error, null, JSON.stringify(r.json.hosts.rsakey.error));
    assert.equal(r.json.hosts.strangerfirst.error, null, JSON.stringify(r.json.hosts.strangerfirst.error));
    const of = (host: string) => trace.split('\n').filter((x) => x.startsWith(`[ssh ${host} `) && /USERAUTH/.test(x)).map((x) => x.replace(/^\[ssh \S+ \d+\] /, '').replace(/(USERAUTH_FAILURE) \(.*\)$/, '$1'));
    // The authorised key file: signed request, success. No query, no PK_OK round trip.
    assert.deepEqual(of('keyfile'), ['Outbound: Sending USERAUTH_REQUEST (publickey)', 'Inbound: Received USERAUTH_SUCCESS']);
    assert.deepEqual(of('rsakey'), ['Outbound: Sending USERAUTH_REQUEST (publickey)', 'Inbound: Received USERAUTH_SUCCESS']);
    // A key the robot refuses: signed request, failure; then the agent's key the usual way (query first).
    assert.deepEqual(of('strangerfirst'), [
      'Outbound: Sending USERAUTH_REQUEST (publickey)',
      'Inbound: Received USERAUTH_FAILURE',
      'Outbound: Sending USERAUTH_REQUEST (publickey -- check)',
      'Inbound: Received USERAUTH_PK_OK',
      'Outbound: Sending USERAUTH_REQUEST (publickey)',
      'Inbound: Received USERAUTH_SUCCESS',
    ]);
  } finally {
    (process.stderr as { write: unknown }).write = write;
    agent.stop();
  }
});

test('Ctrl-C: stops scheduling, the robot in flight finishes its step, records kept, exit 130', opts, async () => {
  const l = lab();
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['bin/fleetmasq.js', 'reboot', '-i', l.paths.inventory, '-l', 'plain:sudoer', '--serial', '1', '--force', '--json'], {
    env: { ...process.env, CI: 'true' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  const interrupted = new Promise<void>((resolve) =>
    child.stderr.on('data', (b) => {
      stderr += b;
      if (/\[plain\] waiting for the new boot/.test(stderr) && !child.killed) {
        child.kill('SIGINT');
        resolve();
      }
    }),
  );
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  await interrupted;
  assert.equal(code, 130, stderr);
  const doc = JSON.parse(stdout);
  // The robot in flight finished its reboot step (proved by a new boot id); it is non-compliant, as
  // nothing was applied to it in this file (hence --force), so its verification fails.
  assert.notEqual(doc.hosts.plain.status, 'skipped');
  assert.match(doc.hosts.plain.details.bootId, /^[0-9a-f-]{36}$/);
  assert.notEqual(doc.hosts.plain.details.bootId, doc.hosts.plain.details.previousBootId);
  assert.equal(doc.hosts.sudoer.status, 'skipped');
  const record = await recordedResults(doc.record);
  assert.deepEqual(record.map((r) => [r.host, r.status]).sort(), [['plain', doc.hosts.plain.status], ['sudoer', 'skipped']]);
});

test('a non-root login without become fails clearly (kind become), before anything is planned', opts, async () => {
  const l = lab();
  const d = tmp();
  const sudoer = l.robots.find((r) => r.name === 'sudoer')!;
  writeFileSync(
    join(d, 'hosts.yml'),
    stringify({
      all: {
        hosts: {
          sudoer: {
            ansible_host: sudoer.address,
            ansible_user: 'robot',
            ansible_ssh_private_key_file: l.paths.key,
            ansible_ssh_common_args: `-o ProxyCommand="socat STDIO UNIX-CONNECT:${l.paths.sockDir}/%h-%p" -o UserKnownHostsFile=${l.paths.knownHosts}`,
          },
        },
      },
    }),
  );
  const r = await cli(['apply', '-i', join(d, 'hosts.yml'), '--json']);
  assert.equal(r.code, 2);
  assert.equal(r.json.hosts.sudoer.error.kind, 'become');
  assert.match(r.json.hosts.sudoer.error.message, /connected as robot \(uid \d+\) without root: set ansible_become: true/);
});

test('connections are released as robots finish: never more open than --forks', opts, async () => {
  const l = lab();
  const { loadInventory } = await import('../../src/inventory/inventory.js');
  const { ConnectionPool, runFleet } = await import('../../src/runner/runner.js');
  const { checkTask } = await import('../../src/tasks/check.js');
  const inv = loadInventory(l.paths.inventory);
  const pool = new ConnectionPool(inv, { becomePassword: pw(l) }, () => {});
  let most = 0;
  const task = checkTask({});
  const run = await runFleet(
    async (ctx) => {
      const out = await task(ctx);
      most = Math.max(most, pool.size);
      return out;
    },
    { command: 'check', hosts: ['plain', 'sudoer', 'sudopw', 'jump', 'behind'], inventory: inv, pool, forks: 2, serial: [], signal: new AbortController().signal, onEvent: () => {} },
  );
  assert.equal([...run.results.values()].filter((r) => r.error).length, 0);
  assert.ok(most <= 2, `at most 2 connections open at once (saw ${most})`);
  assert.equal(pool.size, 0, 'all released at the end');
});

test('-K asks for the sudo password once on the terminal (a real pty), never echoing it', opts, async () => {
  const l = lab();
  const { shQuote } = await import('../../src/util/quote.js');
  const cmd = `node bin/fleetmasq.js check -i ${shQuote(l.paths.inventory)} -l sudopw:sudoer -K --json`;
  // `script` runs the CLI on a pseudo-terminal whose input is our stdin: the password is typed there,
  // once the prompt is shown (as a person would; typed ahead, the terminal would echo it before the prompt).
  const { spawn } = await import('node:child_process');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, FLEETMASQ_BECOME_PASSWORD: '' } });
  let stdout = '';
  child.stdout.on('data', (b) => {
    const before = stdout;
    stdout += b;
    if (!before.includes('BECOME password:') && stdout.includes('BECOME password:')) setTimeout(() => child.stdin.write(`${pw(l)}\n`), 200);
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const r = { stdout, exitCode: code };
  assert.equal((r.stdout.match(/BECOME password:/g) ?? []).length, 1, 'asked once for the whole fleet');
  assert.doesNotMatch(r.stdout, new RegExp(pw(l)), 'the password is not echoed');
  const doc = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')).replace(/\r/g, ''));
  assert.equal(doc.hosts.sudopw.error, null, JSON.stringify(doc.hosts.sudopw.error));
  assert.match(doc.hosts.sudopw.details.bootId, /^[0-9a-f-]{36}$/);
});

test('an encrypted key: a clear reason without its passphrase, with a wrong one; ansible_ssh_private_key_passphrase works', opts, async () => {
  const l = lab();
  const d = tmp();
  const { run } = await import('../../src/util/proc.js');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'sekret pass', '-f', join(d, 'enc')]);
  await sshOut(l, 'plain', 'cat >> /root/.ssh/authorized_keys', readFileSync(join(d, 'enc.pub'), 'utf8'));
  const plain = l.robots.find((r) => r.name === 'plain')!;
  const inv = (extra: Record<string, string>) => {
    writeFileSync(join(d, 'hosts.yml'), stringify({ all: { hosts: { enc: { ansible_host: plain.address, ansible_user: 'root', ansible_ssh_private_key_file: join(d, 'enc'), ansible_ssh_common_args: viaRelayArgs(l), ...extra } } } }));
    return join(d, 'hosts.yml');
  };
  const env = { SSH_AUTH_SOCK: undefined, HOME: d };
  const none = await cli(['check', '-i', inv({}), '--json'], env);
  assert.equal(none.json.hosts.enc.error.kind, 'auth');
  assert.match(none.json.hosts.enc.error.message, /enc is encrypted and no passphrase was given \(set ansible_ssh_private_key_passphrase/);
  const wrong = await cli(['check', '-i', inv({ ansible_ssh_private_key_passphrase: 'not it' }), '--json'], env);
  assert.match(wrong.json.hosts.enc.error.message, /the passphrase for .*enc is wrong/);
  assert.doesNotMatch(wrong.stdout + wrong.stderr, /not it/, 'the passphrase is never shown');
  const right = await cli(['check', '-i', inv({ ansible_ssh_private_key_passphrase: 'sekret pass' }), '--json'], env);
  assert.equal(right.json.hosts.enc.error, null, JSON.stringify(right.json.hosts.enc.error));
});

test('host keys: @revoked refused even with checking off; accept-new makes a 0700 folder and records a key once', opts, async () => {
  const l = lab();
  const d = tmp();
  const plain = l.robots.find((r) => r.name === 'plain')!;
  const key = plain.hostKey.split(' ').slice(0, 2).join(' ');
  writeFileSync(join(d, 'revoked'), `@revoked * ${key}\n`);
  const off = await cli(['check', '-i', l.paths.inventory, '-l', 'plain', '--known-hosts', join(d, 'revoked'), '--host-key-checking', 'off', '--json']);
  assert.equal(off.json.hosts.plain.error.kind, 'hostkey');
  assert.match(off.json.hosts.plain.error.message, /revoked/);
  assert.equal(off.code, 6);
  // Two inventory names for the same robot, connecting at once: one known_hosts line.
  writeFileSync(join(d, 'hosts.yml'), stringify({ all: { hosts: { a1: { ansible_host: plain.address, ansible_user: 'root', ansible_ssh_private_key_file: l.paths.key, ansible_ssh_common_args: viaRelayArgs(l) }, a2: { ansible_host: plain.address, ansible_user: 'root', ansible_ssh_private_key_file: l.paths.key, ansible_ssh_common_args: viaRelayArgs(l) } } } }));
  const kh = join(d, 'new', 'known_hosts');
  const r = await cli(['check', '-i', join(d, 'hosts.yml'), '--known-hosts', kh, '--host-key-checking', 'accept-new', '--json'], { HOME: d, SSH_AUTH_SOCK: undefined });
  assert.equal(r.json.hosts.a1.error, null, JSON.stringify(r.json.hosts.a1.error));
  assert.equal(r.json.hosts.a2.error, null);
  const { statSync } = await import('node:fs');
  assert.equal(statSync(join(d, 'new')).mode & 0o777, 0o700);
  assert.equal(statSync(kh).mode & 0o777, 0o600);
  assert.deepEqual(readFileSync(kh, 'utf8').trim().split('\n'), [`${plain.address} ${key}`]);
  // HashKnownHosts yes: recorded hashed, as OpenSSH does; strict checking then finds it.
  writeFileSync(join(d, 'cfg'), 'Host *\n  HashKnownHosts yes\n');
  const hashedRun = await cli(['check', '-i', join(d, 'hosts.yml'), '-l', 'a1', '--ssh-config', join(d, 'cfg'), '--known-hosts', join(d, 'h2'), '--host-key-checking', 'accept-new', '--json'], { HOME: d, SSH_AUTH_SOCK: undefined });
  assert.equal(hashedRun.json.hosts.a1.error, null, JSON.stringify(hashedRun.json.hosts.a1.error));
  assert.match(readFileSync(join(d, 'h2'), 'utf8'), /^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
  const strictAgain = await cli(['check', '-i', join(d, 'hosts.yml'), '-l', 'a1', '--ssh-config', join(d, 'cfg'), '--known-hosts', join(d, 'h2'), '--json'], { HOME: d, SSH_AUTH_SOCK: undefined });
  assert.equal(strictAgain.json.hosts.a1.error, null);
  // Run records are the operator's only.
  const rec = statSync(recordOf(r.json.record).location);
  assert.equal(rec.mode & 0o777, 0o600);
  assert.equal(statSync(join(recordOf(r.json.record).location, '..')).mode & 0o777, 0o700);
});
