/** The CLI's declarations: flags in their place, did-you-mean, help within 80 columns, README examples that run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS, LAB_COMMANDS } from '../../src/cli/commands.js';
import { cli } from '../helpers/cli.js';

const INV = 'test/fixtures/inventory/hosts.yml';

test('a flag that a command does not take is an error that names the commands that take it', async () => {
  const r = await cli(['check', '-i', INV, '--reboot-timeout', '5']);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /--reboot-timeout does not apply to check \(it is an option of reboot, play\)/);
});

test('a misspelled flag, command or robot gets a did-you-mean; nothing is contacted', async () => {
  const flag = await cli(['check', '-i', INV, '--forkz', '3']);
  assert.equal(flag.code, 5);
  assert.match(flag.stderr, /unknown option '--forkz' for check \(did you mean '--forks'\?\)/);
  const cmd = await cli(['chek', '-i', INV]);
  assert.equal(cmd.code, 5);
  assert.match(cmd.stderr, /unknown command 'chek' \(did you mean 'check'\?\)/);
  const robot = await cli(['check', '-i', INV, '-l', 'cam1']);
  assert.equal(robot.code, 5);
  assert.match(robot.stderr, /did you mean 'cam01'\?/);
  const excl = await cli(['reboot', '-i', INV, '-l', 'all:!arms:!dpots']);
  assert.equal(excl.code, 5, 'a misspelled exclusion never widens a reboot');
  assert.match(excl.stderr, /'!dpots' matches no host or group/);
});

test('-l twice and -l empty are errors, not silently the last one or the whole fleet', async () => {
  const twice = await cli(['check', '-i', INV, '-l', 'cams', '-l', 'arms']);
  assert.equal(twice.code, 5);
  assert.match(twice.stderr, /--limit given more than once: combine patterns in one/);
  const empty = await cli(['check', '-i', INV, '-l', '']);
  assert.equal(empty.code, 5);
  assert.match(empty.stderr, /--limit '' selects nothing/);
});

test('--version, and help that fits 80 columns and lists only the command\'s own flags', async () => {
  const v = await cli(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), `fleetmasq ${JSON.parse(readFileSync('package.json', 'utf8')).version}`);
  const top = await cli(['--help']);
  assert.equal((top.stdout.match(/^Exit codes:/gm) ?? []).length, 1, 'exit codes printed once');
  const pages = [top.stdout];
  for (const c of Object.keys(COMMANDS)) pages.push((await cli([c, '--help'])).stdout);
  for (const c of Object.keys(LAB_COMMANDS)) pages.push((await cli(['lab', c, '--help'])).stdout);
  pages.push((await cli(['lab', '--help'])).stdout);
  for (const p of pages) for (const line of p.split('\n')) assert.ok(line.length <= 80, `over 80 columns: ${line}`);
  const check = (await cli(['check', '--help'])).stdout;
  assert.doesNotMatch(check, /--reboot-timeout|--serial|--force/);
  assert.match((await cli(['reboot', '--help'])).stdout, /--force/);
});

test('a mistake in an INI inventory is an error at its line and column; an inventory folder without hosts gets a plain error', async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmcli-'));
  writeFileSync(join(d, 'hosts'), '# fleet\n[robots]\nrobot-01 ansible_host=10.0.0.1  ansible_port=notaport\n');
  const ini = await cli(['check', '-i', join(d, 'hosts')]);
  assert.equal(ini.code, 5);
  assert.match(ini.stderr, /hosts:3:33: invalid value "notaport" for 'ansible_port': a port number/);
  mkdirSync(join(d, 'inv'));
  writeFileSync(join(d, 'inv', 'hosts.yml'), 'all: {}\n');
  // issue 25: a folder is an inventory as Ansible reads it (every file in it); this one has no hosts.
  const dir = await cli(['check', '-i', join(d, 'inv')]);
  assert.equal(dir.code, 5);
  assert.match(dir.stderr, /the inventory has no hosts: .*inv\n/);
});

test('a report path that cannot be written is refused before any robot is contacted', async () => {
  const r = await cli(['check', '-i', INV, '--html', '/nonexistent-dir/r.html']);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /--html \/nonexistent-dir\/r\.html: cannot write there \(ENOENT\)/);
});

test("every --limit in the README's examples selects robots of the shipped example inventory", async () => {
  const readme = readFileSync('README.md', 'utf8');
  // @FILE terms read a file that a run writes (tested above with a file of its own).
  const limits = [...readme.matchAll(/(?:-l|--limit) '([^']+)'/g)].map((m) => m[1]!).filter((l) => !l.includes('@'));
  assert.ok(limits.length >= 1);
  for (const l of limits) {
    const r = await cli(['inventory', '-i', 'inventories/fleet/hosts.yml', '-l', l]);
    assert.equal(r.code, 0, `${l}: ${r.stderr}`);
    assert.ok(r.stdout.trim().length > 0, l);
  }
});

test('-K reads a non-ASCII password whole from a real terminal, without echo', async () => {
  const { runInPty } = await import('../helpers/pty.js');
  const script = "import('./dist/src/cli/prompt.js').then((m) => console.log('GOT ' + JSON.stringify(m.askSecret('BECOME password: '))))";
  const r = runInPty([process.execPath, '-e', script], [{ after: 'BECOME password: ', send: 'pässwörd-€\r' }], process.env, 30);
  assert.equal(r.code, 0, r.output);
  assert.match(r.output, /GOT "pässwörd-€"/);
  assert.equal((r.output.match(/pässwörd/g) ?? []).length, 1, 'only the program printed it: the terminal did not echo it');
});

test('a dry run says that the inventory\'s ProxyCommands still run on this machine', async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmcli-'));
  writeFileSync(join(d, 'hosts.yml'), `all:\n  vars:\n    ansible_ssh_common_args: "-o ProxyCommand='exit 1'"\n  hosts:\n    r1:\n    r2:\n`);
  const r = await cli(['apply', '-i', join(d, 'hosts.yml'), '--check', '--connect-timeout', '2']);
  assert.match(r.stderr, /note: dry run, yet 2 robot\(s\) are reached through a ProxyCommand that runs on this machine \(1 distinct\), e\.g\.: exit 1/);
  const real = await cli(['check', '-i', join(d, 'hosts.yml'), '--connect-timeout', '2']);
  assert.doesNotMatch(real.stderr, /note: dry run/);
});

test('short flags in a group are checked one by one: a repeated -l inside -ql is an error', async () => {
  const r = await cli(['check', '-i', INV, '-l', 'cams', '-ql', 'all']);
  assert.equal(r.code, 5);
  assert.match(r.stderr, /--limit given more than once/);
  const bad = await cli(['check', '-i', INV, '-qC']);
  assert.equal(bad.code, 5);
  assert.match(bad.stderr, /--check does not apply to check/);
});

test('the retry file lists the robots to run again; --limit @FILE reads patterns from a file and combines', async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmcli-'));
  writeFileSync(join(d, 'hosts.yml'), `all:\n  vars:\n    ansible_ssh_common_args: "-o ProxyCommand='exit 1'"\n  hosts:\n    r1:\n    r2:\n    r3:\n`);
  const r = await cli(['check', '-i', join(d, 'hosts.yml'), '--connect-retries', '0', '--json']);
  assert.equal(r.code, 4);
  assert.equal(r.json.retryFile, '.fleetmasq/last.retry');
  assert.deepEqual(r.json.retry, ['r1', 'r2', 'r3']);
  const text = await cli(['check', '-i', join(d, 'hosts.yml'), '--connect-retries', '0', '-l', 'r1']);
  assert.match(text.stdout, /retry file: \.fleetmasq\/last\.retry \(1 robot: run again with --limit @\.fleetmasq\/last\.retry\)/);
  writeFileSync(join(d, 'retry'), 'r1\nr3\n# a comment\n\n');
  const sel = await cli(['inventory', '-i', join(d, 'hosts.yml'), '-l', `@${join(d, 'retry')}`]);
  assert.deepEqual(sel.stdout.trim().split('\n'), ['r1', 'r3']);
  const narrowed = await cli(['inventory', '-i', join(d, 'hosts.yml'), '-l', `@${join(d, 'retry')}:!r3`]);
  assert.deepEqual(narrowed.stdout.trim().split('\n'), ['r1']);
  writeFileSync(join(d, 'empty'), '');
  const none = await cli(['check', '-i', join(d, 'hosts.yml'), '-l', `@${join(d, 'empty')}`]);
  assert.equal(none.code, 5);
  assert.match(none.stderr, /lists no robot \(nothing left to retry\?\)/);
});

test('--quiet: no progress lines on stderr (warnings and the recap only)', async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmcli-'));
  writeFileSync(join(d, 'hosts.yml'), `all:\n  vars:\n    ansible_ssh_common_args: "-o ProxyCommand='exit 1'"\n  hosts:\n    r1:\n`);
  const loud = await cli(['check', '-i', join(d, 'hosts.yml'), '--connect-retries', '0']);
  assert.match(loud.stderr, /\[r1\] connecting/);
  const quiet = await cli(['check', '-i', join(d, 'hosts.yml'), '--connect-retries', '0', '--quiet']);
  assert.doesNotMatch(quiet.stderr, /\[r1\] connecting|== batch/);
  assert.match(quiet.stdout, /check recap: 1 robot {2}ok=/);
});

test('-v, -vv, -vvv: steps and exit statuses, then scripts and raw output, then the SSH handshake; never a secret; the record keeps the raw output', async () => {
  const { startShellRobot } = await import('../helpers/shellrobot.js');
  const { execFileSync } = await import('node:child_process');
  const password = 'sudo-secret-Pw1';
  const passphrase = 'key-secret-Pp2';
  // A robot whose sudo reads the password and then echoes it back (a hostile or broken robot), with an
  // escape sequence that would retitle the terminal.
  const robot = await startShellRobot({
    sudo: 'printf "%s" "$4" >&2; read -r pw; echo "robot echoes: $pw"; printf "\\033]0;owned\\007sudo says: %s is wrong for iptables\\n" "$pw" >&2; exit 3',
  });
  const d = mkdtempSync(join(tmpdir(), 'fmverbose-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', join(d, 'id')]);
    writeFileSync(
      join(d, 'hosts.yml'),
      `all:\n  hosts:\n    r1:\n      ansible_host: 127.0.0.1\n      ansible_port: ${robot.port}\n      ansible_user: pilot\n      ansible_become: true\n` +
        `      ansible_ssh_private_key_file: ${join(d, 'id')}\n      ansible_ssh_private_key_passphrase: ${passphrase}\n`,
    );
    const env = { FLEETMASQ_BECOME_PASSWORD: password, FLEETMASQ_STORE: join(d, 'fm.db'), SSH_AUTH_SOCK: undefined };
    const base = ['check', '-i', join(d, 'hosts.yml'), '--known-hosts', robot.knownHosts, '--connect-retries', '0'];
    const quiet = await cli(base, env);
    assert.doesNotMatch(quiet.stderr, /-v |script sent|ssh2:/, 'nothing verbose without -v');
    const v1 = await cli([...base, '-v'], env);
    assert.match(v1.stderr, /\[r1\] -v 'connecting' took \d+\.\d\d s; now: gathering facts/);
    assert.match(v1.stderr, /\[r1\] -v command exited 3 after \d+ ms/);
    assert.doesNotMatch(v1.stderr, /script sent|ssh2:/, '-v shows neither scripts nor the handshake');
    // The real binary (its stdio is where the sanitiser stands), run asynchronously: the robot is in this process.
    const { spawn } = await import('node:child_process');
    const v3 = await new Promise<{ code: number; stdout: string; stderr: string; json: any }>((resolve) => {
      const { SSH_AUTH_SOCK: _a, ...rest } = process.env;
      const c = spawn(process.execPath, ['bin/fleetmasq.js', ...base, '-vvv', '--json'], { env: { ...rest, FLEETMASQ_BECOME_PASSWORD: password, FLEETMASQ_STORE: join(d, 'fm.db') } });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (x) => (stdout += x));
      c.stderr.on('data', (x) => (stderr += x));
      c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, json: JSON.parse(stdout) }));
    });
    assert.equal(v3.code, 2);
    // -vv: the script sent, and what the robot said, exactly (made harmless).
    assert.match(v3.stderr, /\[r1\] -vv script sent \(\d+ bytes\):/);
    assert.match(v3.stderr, /robot echoes: \*\*\*\*\*\*\*\*/);
    assert.match(v3.stderr, /\\u001b\]0;owned\\u0007sudo says: \*\*\*\*\*\*\*\* is wrong for iptables/);
    // -vvv: the handshake.
    assert.match(v3.stderr, /\[r1\] -vvv connecting to pilot@127\.0\.0\.1:\d+/);
    assert.match(v3.stderr, /-vvv ssh2: .*(KEX|kex)/);
    assert.match(v3.stderr, /-vvv ssh2: Outbound: Sending USERAUTH_REQUEST \(publickey\)/);
    const all = v3.stdout + v3.stderr;
    assert.ok(!all.includes(password) && !all.includes(passphrase), 'no secret on the terminal');
    assert.doesNotMatch(all, /\x1b/, 'no raw escape sequence');
    // The record keeps what the robot said (sanitised, without the secret) for later.
    const { recordedResults } = await import('../helpers/store.js');
    const stored = await recordedResults(v3.json.record, { ...process.env, FLEETMASQ_STORE: join(d, 'fm.db') });
    const dbBytes = readFileSync(join(d, 'fm.db')).toString('latin1');
    assert.ok(!dbBytes.includes(password) && !dbBytes.includes(passphrase), 'no secret in the record');
    const line = stored.find((l) => l.host === 'r1') as any;
    assert.equal(line.raw.exitCode, 3);
    assert.match(line.raw.facts, /robot echoes: \*{8}/);
    assert.match(line.raw.stderr, /\\u001b\]0;owned\\u0007sudo says: \*{8} is wrong for iptables/);
  } finally {
    await robot.close();
  }
});

test("help says every persistence mode (check --help names external) and every lab subcommand's usage names each of its flags", async () => {
  const { PERSISTENCE_MODES } = await import('../../src/inventory/vars.js');
  const help = await cli(['check', '--help']);
  const line = help.stdout.split('--persistence')[1]!.split('\n  -')[0]!;
  for (const m of PERSISTENCE_MODES) assert.ok(line.includes(m), `--persistence's help names ${m}: ${line}`);
  for (const [name, spec] of Object.entries(LAB_COMMANDS)) for (const f of spec.flags) assert.ok(spec.usage.includes(`--${f}`), `lab ${name}'s usage names --${f}: ${spec.usage}`);
  const lab = await cli(['lab', '--help']);
  assert.match(lab.stdout, /lab link ROBOT \[--name N\]/);
});

test('fleetmasq config | head: a reader that goes away early ends the output quietly, no EPIPE stack trace', async () => {
  const { spawn } = await import('node:child_process');
  for (let i = 0; i < 3; i++) {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, ['bin/fleetmasq.js', 'config'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // The reader is gone before the command writes a byte (head -3 after its lines, at once).
      c.stdout.destroy();
      let stderr = '';
      c.stderr.on('data', (x) => (stderr += x));
      c.on('close', (code) => resolve({ code, stderr }));
    });
    assert.doesNotMatch(r.stderr, /EPIPE|Error|\n\s+at /, r.stderr);
    assert.equal(r.code, 0);
  }
});

test("-l '@RETRY:legacy' with an empty retry file runs on legacy; alone (or only narrowing) it is still an error", async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmcli-'));
  writeFileSync(join(d, 'hosts.yml'), 'all:\n  hosts:\n    r1:\n    legacy:\n');
  writeFileSync(join(d, 'retry'), '');
  const sel = await cli(['inventory', '-i', join(d, 'hosts.yml'), '-l', `@${join(d, 'retry')}:legacy`]);
  assert.equal(sel.code, 0, sel.stderr);
  assert.deepEqual(sel.stdout.trim().split('\n'), ['legacy']);
  const only = await cli(['inventory', '-i', join(d, 'hosts.yml'), '-l', `@${join(d, 'retry')}:!legacy`]);
  assert.equal(only.code, 5, 'an empty list never widens to every robot');
  assert.match(only.stderr, /lists no robot/);
});

test('the terminal view after one Ctrl-C during a play: the run line says robots were skipped and is not a green tick, and the Ctrl-C hint is gone once the run ended', async () => {
  const { runInPty, CTRL_C } = await import('../helpers/pty.js');
  const d = mkdtempSync(join(tmpdir(), 'fmpty-'));
  // Six robots; each in flight takes two seconds to fail to connect. Two at a time (--forks 2).
  writeFileSync(join(d, 'hosts.yml'), `all:\n  vars:\n    ansible_ssh_common_args: "-o ProxyCommand='sleep 2; exit 1'"\n  hosts:\n${[1, 2, 3, 4, 5, 6].map((i) => `    cam-0${i}:\n`).join('')}`);
  writeFileSync(join(d, 'play.yml'), '- name: sweep\n  hosts: all\n  tasks:\n    - name: compliance\n      check: {}\n');
  const { CI: _ci, ...env } = process.env;
  const r = runInPty(
    [process.execPath, 'bin/fleetmasq.js', 'play', join(d, 'play.yml'), '-i', join(d, 'hosts.yml'), '--forks', '2', '--connect-retries', '0'],
    [{ after: 'cam-01: compliance: connecting', send: CTRL_C }],
    { ...env, TERM: 'xterm', FLEETMASQ_STORE: join(d, 'fm.db') },
    60,
  );
  assert.equal(r.untriggered, 0, r.output);
  assert.equal(r.code, 130, r.output);
  const heads = r.output.split('\n').filter((l) => /sweep: \d\/6 done/.test(l));
  const last = heads[heads.length - 1]!;
  assert.match(last, /6\/6 done, 2 failed, 4 skipped — interrupted/, last);
  assert.doesNotMatch(last, /✔/, 'not a green tick for an interrupted run');
  assert.doesNotMatch(last, /Ctrl-C again/, 'the hint is gone once the run ended');
  assert.match(r.output, /play recap: 6 robots .*unreachable=2 .*skipped=4/);
});
