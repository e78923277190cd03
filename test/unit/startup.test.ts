/**
 * Start-up (issue 28): a command loads only what it uses, and fleet commands start from the start-up
 * snapshot that `npm run build` makes (scripts/snapshot.mjs, src/cli/snapshot.ts, bin/fleetmasq.js).
 * The costs themselves are measured by `npm run bench:startup`, not here (no timed assertions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve('.');
const BIN = join(root, 'bin', 'fleetmasq.js');
const BLOB = join(root, 'dist', 'snapshot', 'fleetmasq.blob');

function scratch(): { dir: string; inv: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fm-startup-'));
  const inv = join(dir, 'inventory.yml');
  // One robot that refuses at once: a check goes through everything up to its first robot's answer.
  writeFileSync(inv, 'all:\n  hosts:\n    r1:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n      masquerade_interface: usb0\n  vars:\n    site: lab\n');
  return { dir, inv };
}

function run(argv: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The node_modules packages a command has loaded once it has run (CommonJS ones, as ssh2 and yaml are). */
function packagesLoadedBy(args: string[]): string[] {
  const script = `
    import { createRequire } from 'node:module';
    const { main } = await import(${JSON.stringify(join(root, 'dist/src/cli/main.js'))});
    await main(${JSON.stringify(args)}, { out() {}, err() {}, isTTY: false });
    const names = Object.keys(createRequire(import.meta.url).cache)
      .map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean);
    console.log(JSON.stringify([...new Set(names)].sort()));`;
  const { dir } = scratch();
  const r = run([process.execPath, '--input-type=module', '-e', script], dir);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as string[];
}

test('--version and help load no dependency; a check loads its own', () => {
  assert.deepEqual(packagesLoadedBy(['--version']), []);
  assert.deepEqual(packagesLoadedBy(['--help']), []);
  assert.deepEqual(packagesLoadedBy(['check', '--help']), []);
  const { inv } = scratch();
  const check = packagesLoadedBy(['check', '-i', inv, '--connect-retries', '0', '-q']);
  assert.ok(check.includes('ssh2') && check.includes('yaml'), check.join(' '));
});

test('npm run build made the start-up snapshot, for this node', () => {
  assert.ok(existsSync(BLOB), 'dist/snapshot/fleetmasq.blob is missing: see the output of scripts/snapshot.mjs in npm run build');
  const node = readFileSync(join(root, 'dist', 'snapshot', 'node'), 'utf8').trim();
  assert.equal(node, realpathSync(process.execPath));
});

test('a command started from the snapshot does what the unbundled CLI does', () => {
  const { dir, inv } = scratch();
  const cases = [
    ['inventory', '-i', inv, '--list'],
    ['check', '-i', inv, '--connect-retries', '0', '--json'],
    ['apply', '-i', inv, '--connect-retries', '0', '-q'],
    ['check', '--bogus'],
    ['lab', 'nosuch'],
  ];
  // Times, durations, pids and run ids differ from run to run: compare everything else.
  const masked = (s: string) => s.replace(/[0-9a-f]{8,}/g, 'H').replace(/\d+/g, 'N');
  for (const args of cases) {
    const plain = run([process.execPath, BIN, ...args], dir);
    const snap = run([process.execPath, '--snapshot-blob', BLOB, BIN, ...args], dir);
    assert.equal(snap.code, plain.code, `${args.join(' ')}: ${snap.err}`);
    assert.equal(masked(snap.out), masked(plain.out), args.join(' '));
    assert.equal(masked(snap.err), masked(plain.err), args.join(' '));
  }
  // A dependency that fleetmasq imports on first use (prom-client here) is loaded from node_modules at run time.
  const prom = join(dir, 'm.prom');
  const r = run([process.execPath, '--snapshot-blob', BLOB, BIN, 'check', '-i', inv, '--connect-retries', '0', '-q', '--prom', prom], dir);
  assert.equal(r.code, 4, r.err);
  assert.match(readFileSync(prom, 'utf8'), /^# TYPE fleetmasq_\w+ gauge$/m);
});

test('bin/fleetmasq.js as a command: fleet commands start from the snapshot (also through a symlink), --version, help, lab and demo without it', () => {
  const { dir, inv } = scratch();
  const link = join(dir, 'fleetmasq');
  symlinkSync(BIN, link);
  const traced = (argv: string[], env: Record<string, string> = {}) => {
    const r = run(['sh', '-x', ...argv], dir, env);
    const exec = r.err.split('\n').filter((l) => l.startsWith('+ exec ')).pop() ?? '';
    return { ...r, exec };
  };
  for (const bin of [BIN, link]) {
    const t = traced([bin, 'inventory', '-i', inv, '--list']);
    assert.equal(t.code, 0, t.err);
    assert.match(t.exec, /--snapshot-blob \S+\/dist\/snapshot\/fleetmasq\.blob \S+\/bin\/fleetmasq\.js inventory/);
    assert.match(t.out, /r1/);
  }
  for (const args of [['--version'], ['--help'], ['check', '--help']]) {
    const t = traced([BIN, ...args]);
    assert.equal(t.code, 0, t.err);
    assert.doesNotMatch(t.exec, /snapshot/);
  }
  assert.doesNotMatch(traced([BIN, 'inventory', '-i', inv, '--list'], { FLEETMASQ_NO_SNAPSHOT: '1' }).exec, /snapshot/);
  // lab and demo load the lab (dist/lab, not in the snapshot) at run time: they start without the snapshot.
  const lab = traced([BIN, 'lab', 'status', '--name', 'nosuchlab']);
  assert.equal(lab.code, 1, lab.err);
  assert.match(lab.err, /no lab named 'nosuchlab'/);
  assert.doesNotMatch(lab.exec, /snapshot/);
  assert.doesNotMatch(traced([BIN, 'demo', '--robots', '0']).exec, /snapshot/);
  // Run as node's script, the launcher is plain JavaScript.
  const v = run([process.execPath, BIN, '--version'], dir);
  assert.match(v.out, /^fleetmasq \d+\.\d+\.\d+/);
});

test("from the snapshot, ssh2's native ciphers load at the first connection, when its install built them", async (t) => {
  const addon = join(root, 'node_modules', 'ssh2', 'lib', 'protocol', 'crypto', 'build', 'Release', 'sshcrypto.node');
  if (!existsSync(addon)) return t.skip("ssh2 was installed without its addon: it uses node's crypto, bundled or not");
  const bundle = readFileSync(join(root, 'dist', 'snapshot', 'fleetmasq.cjs'), 'utf8');
  for (const f of ['createCipher', 'createDecipher'])
    assert.match(bundle, new RegExp(`function ${f}\\(\\w+\\)\\{if\\(fleetmasqLoadBinding\\(\\),`), `the build moved ssh2's addon load into ${f} (scripts/snapshot.mjs)`);
  const { dir, inv: refusing } = scratch();
  // A robot whose key exchange ends (both sides then make their ciphers): test/helpers/shellrobot.ts.
  const { startShellRobot } = await import('../helpers/shellrobot.js');
  const robot = await startShellRobot({});
  const inv = join(dir, 'ssh.yml');
  writeFileSync(inv, `all:\n  hosts:\n    r1:\n      ansible_host: 127.0.0.1\n      ansible_port: ${robot.port}\n      ansible_user: u\n`);
  // glibc's LD_DEBUG=files lists every shared object the process loads, dlopen'ed addons included.
  const loads = async (file: string) => {
    const child = spawn(process.execPath, ['--snapshot-blob', BLOB, BIN, 'check', '-i', file, '--connect-retries', '0', '-q', '--known-hosts', robot.knownHosts], {
      cwd: dir,
      env: { ...process.env, LD_DEBUG: 'files' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    await new Promise((r) => child.on('close', r));
    return err;
  };
  try {
    const connected = await loads(inv);
    if (!/file=\S*libc\.so/.test(connected)) return t.skip('LD_DEBUG lists nothing here (not glibc)');
    assert.match(connected, /file=\S*sshcrypto\.node/);
    // A run that makes no connection does not load it.
    assert.doesNotMatch(await loads(refusing), /sshcrypto\.node/);
  } finally {
    await robot.close();
  }
});
