/**
 * The benchmark harness (`npm run bench`) end to end on a tiny fleet: every tool does every job on real
 * robots and succeeds, the JSON, table and chart are written. Its numbers are not asserted (timings
 * belong to the benchmark, not to tests); that the tools did the work is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLab } from '../../lab/lab.js';
import { run } from '../../src/util/proc.js';
import { canRunLab } from '../helpers/lab.js';

const opts = { skip: !canRunLab && 'needs root', timeout: 600_000 };

test('bench: fleetmasq, raw ssh and Ansible each do apply, apply again, check and reboot on 1 and 2 robots', opts, async () => {
  const out = mkdtempSync(join(tmpdir(), 'fm-bench-'));
  try {
    const hasAnsible = (await run('sh', ['-c', 'command -v ansible-playbook'], { nothrow: true })).ok;
    const r = await run(process.execPath, ['dist/bench/bench.js', '--sizes', '1,2', '--runs', '1', '--lab', 'tbench', '--out', out], { nothrow: true, timeoutMs: 580_000 });
    assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
    const doc = JSON.parse(readFileSync(join(out, 'bench-n1-2-rtt0.json'), 'utf8'));
    const tools = hasAnsible ? ['fleetmasq', 'raw', 'ansible'] : ['fleetmasq', 'raw'];
    assert.deepEqual(doc.tools, tools);
    assert.equal(doc.results.length, 2 * 4);
    for (const row of doc.results) {
      for (const t of tools) {
        assert.equal(row[t].failures, 0, `${t} ${row.job} on ${row.robots}: ${row[t].notes.join(' | ')}`);
        assert.ok(row[t].wall.median > 0 && row[t].rssMb.median > 0);
      }
      assert.ok(row.speedup_vs_raw > 0);
    }
    assert.match(readFileSync(join(out, 'bench-n1-2-rtt0.md'), 'utf8'), /\| 2 \| 0 ms \| reboot \|/);
    assert.match(readFileSync(join(out, 'bench-n1-2-rtt0.svg'), 'utf8'), /<polyline/);
    assert.equal(readLab('tbench'), undefined, 'the bench removes its lab');
    assert.ok(existsSync(join(out, 'raw-reboot.sh')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('bench on light robots, reached directly from the lab namespace: every tool does apply, apply again and check; --also-forks adds a check', opts, async () => {
  const out = mkdtempSync(join(tmpdir(), 'fm-bench-'));
  try {
    const hasAnsible = (await run('sh', ['-c', 'command -v ansible-playbook'], { nothrow: true })).ok;
    const args = ['--sizes', '2', '--runs', '1', '--form', 'light', '--direct', '--jobs', 'apply,apply-again,check', '--also-forks', '1', '--connect-timeout', '30', '--lab', 'tbenl', '--out', out];
    const r = await run(process.execPath, ['dist/bench/bench.js', ...args], { nothrow: true, timeoutMs: 580_000 });
    assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
    const doc = JSON.parse(readFileSync(join(out, 'bench-n2-rtt0-light-direct.json'), 'utf8'));
    const tools = hasAnsible ? ['fleetmasq', 'raw', 'ansible'] : ['fleetmasq', 'raw'];
    assert.deepEqual([doc.form, doc.direct, doc.connectTimeout], ['light', true, 30]);
    assert.deepEqual(doc.results.map((x: { job: string }) => x.job), ['apply', 'apply-again', 'check', 'check --forks 1']);
    for (const row of doc.results.slice(0, 3)) {
      for (const t of tools) assert.equal(row[t].failures, 0, `${t} ${row.job}: ${row[t].notes.join(' | ')}`);
      assert.ok(row.fleetmasqCpuPerRobotMs > 0);
    }
    const extra = doc.results[3];
    assert.deepEqual([extra.forks, extra.fleetmasq.failures, extra.raw], [1, 0, undefined]);
    assert.equal(readLab('tbenl'), undefined, 'the bench removes its lab');
    // Light robots do not boot: the bench refuses a reboot job on them, before booting anything.
    const no = await run(process.execPath, ['dist/bench/bench.js', '--form', 'light', '--jobs', 'reboot', '--out', out], { nothrow: true });
    assert.equal(no.exitCode, 2);
    assert.match(no.stderr, /light robots do not boot/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
