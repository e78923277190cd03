/** The entry-point fragment under a real sh, with a stub iptables and ip: idempotent, never failing its entry point. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entrypointSnippet } from '../../src/remote/files/snippet.js';
import { run } from '../../src/util/proc.js';

const IPTABLES = `#!/bin/sh
st="$SANDBOX/rules"; touch "$st"
[ -n "$FAIL" ] && { echo "iptables: Permission denied (you must be root)" >&2; exit 4; }
while [ $# -gt 0 ]; do case "$1" in -w) shift;; -t) shift 2;; *) break;; esac; done
op=$1; shift
case $op in -C) grep -qxF -- "$*" "$st";; -A) echo "$*" >> "$st";; esac
`;

async function entrypoint(spec: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'fmsnip-'));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin/iptables'), IPTABLES, { mode: 0o755 });
  writeFileSync(join(dir, 'bin/ip'), '#!/bin/sh\nprintf "default via 10.0.0.1 dev eth1 metric 600\\ndefault via 10.0.0.1 dev wlan0 proto dhcp metric 100\\n"\n', { mode: 0o755 });
  // An entry point as images have it: set -e, the fragment, then exec of its arguments.
  const script = `set -e\n${entrypointSnippet(spec)}\necho "args: $*"\n`;
  const go = () => run('sh', ['-c', script, 'entrypoint', 'roslaunch', 'robot.launch'], { nothrow: true, env: { ...process.env, SANDBOX: dir, PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, ...env } });
  return { dir, go, rules: () => readFileSync(join(dir, 'rules'), 'utf8') };
}

test('snippet: the uplink of the lowest-metric default route, once however often the container starts; "$@" kept', async () => {
  const e = await entrypoint('auto');
  for (let i = 0; i < 3; i++) {
    const r = await e.go();
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'args: roslaunch robot.launch');
  }
  assert.equal(e.rules(), 'POSTROUTING -o wlan0 -j MASQUERADE\n');
});

test('snippet: named interfaces and wildcards, one rule each', async () => {
  const e = await entrypoint('wlan0,usb+');
  await e.go();
  await e.go();
  assert.equal(e.rules(), 'POSTROUTING -o wlan0 -j MASQUERADE\nPOSTROUTING -o usb+ -j MASQUERADE\n');
});

test('snippet: without NET_ADMIN it says so on stderr and the entry point still starts the stack', async () => {
  const e = await entrypoint('auto', { FAIL: '1' });
  const r = await e.go();
  assert.equal(r.exitCode, 0);
  assert.match(r.stderr, /fleetmasq: could not add the masquerade rule on wlan0 \(NET_ADMIN\? host network\? iptables\?\)/);
  assert.equal(r.stdout.trim(), 'args: roslaunch robot.launch');
});

test('snippet: an entry point with a hostile IFS and globbing on still gets its rule; its IFS, options and "$@" are left alone', async () => {
  const e = await entrypoint('auto');
  // The route's words would be globbed against these files, and split on ',' and 'e' only.
  writeFileSync(join(e.dir, 'wlan0'), '');
  const script = `set -e\nIFS=',e'\ncd ${JSON.stringify(e.dir)}\n${entrypointSnippet('auto')}\nprintf 'ifs=[%s] opts=%s args=%s|%s\\n' "$IFS" "$-" "$1" "$2"\n`;
  const r = await run('sh', ['-c', script, 'entrypoint', 'ros launch', '*'], { nothrow: true, env: { ...process.env, SANDBOX: e.dir, PATH: `${join(e.dir, 'bin')}:/usr/bin:/bin` } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(e.rules(), 'POSTROUTING -o wlan0 -j MASQUERADE\n');
  const m = /^ifs=\[(.*)\] opts=(\S*) args=(.*)$/m.exec(r.stdout)!;
  assert.equal(m[1], ',e', 'IFS as the entry point set it');
  assert.ok(!m[2]!.includes('f'), 'globbing not left off');
  assert.equal(m[3], 'ros launch|*');
});

test('snippet: a default route whose interface name carries shell is refused, and nothing runs with it', async () => {
  const e = await entrypoint('auto');
  writeFileSync(join(e.dir, 'bin/ip'), '#!/bin/sh\nprintf \'default dev a;touch${IFS}pw metric 1\\ndefault via 10.0.0.1 dev wlan0 metric 100\\n\'\n', { mode: 0o755 });
  const script = `cd ${JSON.stringify(e.dir)}\n${entrypointSnippet('auto')}\n`;
  const r = await run('sh', ['-c', script], { nothrow: true, env: { ...process.env, SANDBOX: e.dir, PATH: `${join(e.dir, 'bin')}:/usr/bin:/bin` } });
  assert.equal(r.exitCode, 0);
  assert.match(r.stderr, /not a name fleetmasq accepts: no rule added/);
  assert.equal(readFileSync(join(e.dir, 'rules'), { encoding: 'utf8', flag: 'a+' }), '');
  assert.ok(!existsSync(join(e.dir, 'pw')));
});
