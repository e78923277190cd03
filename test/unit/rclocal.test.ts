import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BEGIN, END, blockDamage, deadLinesAfterExit, findBlock, removeBlock, withBlock } from '../../src/remote/files/rclocal.js';
import { STOCK_RC_LOCAL } from '../../lab/robot-files.js';
import { run } from '../../src/util/proc.js';

const cases: [string, { content: string; mode: number }][] = [
  ['stock Debian file', { content: STOCK_RC_LOCAL, mode: 0o755 }],
  ['no shebang, not executable', { content: 'touch /tmp/x\nexit 0\n', mode: 0o644 }],
  ['no exit', { content: '#!/bin/bash\necho hi\n', mode: 0o700 }],
  ['no final newline', { content: '#!/bin/sh\necho hi\nexit 0', mode: 0o755 }],
  ['no final newline, no exit', { content: '#!/bin/sh\necho hi', mode: 0o755 }],
  ['exit inside a block only', { content: '#!/bin/sh\nif false; then\n  exit 1\nfi\n', mode: 0o755 }],
  ['empty file', { content: '', mode: 0o644 }],
  ['lines appended after exit 0', { content: '#!/bin/sh -e\nexit 0\niptables -t nat -A POSTROUTING -o wlan0 -j MASQUERADE\n', mode: 0o755 }],
];

for (const [name, file] of cases) {
  test(`rc.local round trip: ${name}`, () => {
    const withIt = withBlock(file, 'wlan0');
    assert.ok(withIt.content.startsWith('#!'), 'has a shebang');
    assert.equal(withIt.mode & 0o100, 0o100, 'executable by its owner');
    assert.equal(withIt.mode & ~0o100, file.mode & ~0o100, 'otherwise the mode is kept');
    const b = findBlock(withIt.content)!;
    assert.equal(b.iface, 'wlan0');
    // Every original line is still there, in order.
    const orig = file.content.split('\n').filter(Boolean);
    const all = withIt.content.split('\n');
    const kept = [...all.slice(0, all.indexOf(BEGIN)), ...all.slice(all.indexOf(END) + 1)].filter((l) => orig.includes(l));
    assert.deepEqual(kept, orig);
    // The block is before the first top-level exit.
    const lines = withIt.content.split('\n');
    const exitAt = lines.findIndex((l, i) => i > 0 && /^exit\b/.test(l));
    if (exitAt >= 0) assert.ok(lines.indexOf(END) < exitAt);
    // Re-applying is a no-op; removing gives back the exact bytes and mode.
    assert.deepEqual(withBlock(withIt, 'wlan0'), withIt);
    assert.deepEqual(removeBlock(withIt), file);
    // Switching interface replaces the block and still restores the original.
    const eth = withBlock(withIt, 'eth0');
    assert.equal(findBlock(eth.content)!.iface, 'eth0');
    assert.equal(eth.content.split(BEGIN).length, 2, 'one block only');
    assert.deepEqual(removeBlock(eth), file);
  });
}

test('rc.local created by fleetmasq is deleted by remove', () => {
  const created = withBlock(undefined, 'wwan0');
  assert.match(created.content, /^#!\/bin\/sh\n/);
  assert.match(created.content, /exit 0\n$/);
  assert.equal(removeBlock(created), undefined);
});

test('a file fleetmasq created keeps the lines an admin added since; remove takes only the block', () => {
  const created = withBlock(undefined, 'wwan0');
  const edited = { content: created.content.replace('exit 0\n', 'echo admin >> /var/log/boot.log\nexit 0\n'), mode: 0o755 };
  assert.deepEqual(removeBlock(edited), { content: '#!/bin/sh\necho admin >> /var/log/boot.log\nexit 0\n', mode: 0o755 });
});

test('damaged markers (an orphan BEGIN, two blocks, END first) are never edited', () => {
  const good = withBlock({ content: '#!/bin/sh\necho mine\nexit 0\n', mode: 0o755 }, 'wlan0');
  const orphan = good.content.replace(`${END}\n`, '');
  const two = good.content.replace('exit 0\n', `${BEGIN}\necho user line\n${END}\nexit 0\n`);
  for (const [name, content] of [['orphan BEGIN', orphan], ['two blocks', two], ['END first', `#!/bin/sh\n${END}\necho a\n${BEGIN}\n`]] as const) {
    assert.match(blockDamage(content) ?? '', /markers are damaged/, name);
    assert.equal(findBlock(content), undefined, name);
    assert.deepEqual(removeBlock({ content, mode: 0o755 }), { content, mode: 0o755 }, `${name}: untouched`);
  }
  assert.equal(blockDamage(good.content), undefined);
});

test('lines after exit are reported as dead', () => {
  assert.deepEqual(deadLinesAfterExit(cases[7]![1].content), ['iptables -t nat -A POSTROUTING -o wlan0 -j MASQUERADE']);
  assert.deepEqual(deadLinesAfterExit(STOCK_RC_LOCAL), []);
});

async function runRcLocal(iptablesExit: number) {
  const d = mkdtempSync(join(tmpdir(), 'fmrc-'));
  // A fake iptables that logs its calls and fails with the given code.
  writeFileSync(join(d, 'iptables'), `#!/bin/sh\necho "$*" >> ${d}/calls\nexit ${iptablesExit}\n`);
  chmodSync(join(d, 'iptables'), 0o755);
  const rc = withBlock({ content: `#!/bin/sh -e\necho before >> ${d}/ran\nexit 0\n`, mode: 0o755 }, 'wlan0');
  const script = rc.content.replace('/run/fleetmasq', `${d}/run`).replace('/run/fleetmasq/boot-marker', `${d}/run/boot-marker`).replace(/\/run\/fleetmasq/g, `${d}/run`);
  writeFileSync(join(d, 'rc.local'), script.replace('exit 0\n', `echo after >> ${d}/ran\nexit 0\n`));
  const r = await run('sh', ['-e', join(d, 'rc.local')], { env: { ...process.env, PATH: `${d}:${process.env.PATH}` }, nothrow: true });
  return { r, d, ran: readFileSync(join(d, 'ran'), 'utf8'), calls: readFileSync(join(d, 'calls'), 'utf8') };
}

test('the block cannot abort a `sh -e` rc.local, even when iptables fails', async () => {
  const failing = await runRcLocal(1);
  assert.equal(failing.r.exitCode, 0);
  assert.equal(failing.ran, 'before\nafter\n');
  assert.match(failing.calls, /-t nat -C POSTROUTING -o wlan0 -j MASQUERADE\n.*-t nat -A POSTROUTING -o wlan0 -j MASQUERADE/);
  const ok = await runRcLocal(0);
  assert.equal(ok.r.exitCode, 0);
  assert.equal(ok.ran, 'before\nafter\n');
  assert.match(readFileSync(join(ok.d, 'run', 'boot-marker'), 'utf8'), /^[0-9a-f-]{36} rc\.local wlan0\n$/);
});
