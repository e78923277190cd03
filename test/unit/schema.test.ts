/**
 * The --json document (schemas/run-result.schema.json): every command's real output validates, failures,
 * dry runs, reboots, stopped rollouts, playbooks and diagnose included; the schema's robot facts are
 * exactly the declared fields (src/report/fields.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { assertRunDocument, RUN_SCHEMA } from '../helpers/schema.js';
import { ROBOT_FIELDS } from '../../src/report/fields.js';

test('the schema ships in the package and describes exactly the declared robot fields, with their types', async () => {
  const pkg = JSON.parse((await import('node:fs')).readFileSync('package.json', 'utf8'));
  assert.ok(pkg.files.includes('schemas'), 'schemas/ is in the package');
  const props = RUN_SCHEMA.definitions.details.properties as Record<string, { type?: string | string[]; enum?: unknown[] }>;
  assert.deepEqual(Object.keys(props).sort(), ROBOT_FIELDS.map((f) => f.key).sort(), 'every declared field is in the schema, and nothing else');
  for (const f of ROBOT_FIELDS) {
    const p = props[f.key]!;
    const types = p.type ? [p.type].flat() : [...new Set(p.enum!.map((v) => typeof v))];
    assert.deepEqual(types.map((t) => (t === 'integer' ? 'number' : t)).sort(), [f.type].flat().sort(), `${f.key}: the declared type`);
  }
});

test("every fleet command's real --json output is a valid run document: unreachable robots, dry runs, a stopped rollout, a playbook, diagnose, a robot that failed with its raw output", async () => {
  const { startShellRobot } = await import('../helpers/shellrobot.js');
  const d = mkdtempSync(join(tmpdir(), 'fmschema-'));
  // A robot whose sudo fails after saying something: a failed robot with raw output kept.
  const robot = await startShellRobot({ sudo: 'printf "%s" "$4" >&2; read -r pw; echo half a facts document; echo "iptables: No chain/target/match by that name." >&2; exit 1' });
  writeFileSync(
    join(d, 'hosts.yml'),
    `all:\n  children:\n    gone:\n      vars:\n        ansible_ssh_common_args: "-o ProxyCommand='exit 1'"\n      hosts:\n        r1:\n        r2:\n        r3:\n    live:\n      hosts:\n` +
      `        sh1:\n          ansible_host: 127.0.0.1\n          ansible_port: ${robot.port}\n          ansible_user: pilot\n          ansible_become: true\n`,
  );
  writeFileSync(join(d, 'play.yml'), '- name: rollout\n  hosts: all\n  tasks:\n    - name: apply\n      masquerade: {}\n    - name: persist\n      persist: {}\n    - name: verify\n      verify: {}\n');
  const base = ['-i', join(d, 'hosts.yml'), '--known-hosts', robot.knownHosts, '--connect-retries', '0', '--json'];
  const env = { FLEETMASQ_STORE: join(d, 'fm.db'), FLEETMASQ_BECOME_PASSWORD: 'pw', SSH_AUTH_SOCK: undefined };
  const runs: [string, string[]][] = [
    ['check', ['check']],
    ['verify', ['verify']],
    ['apply', ['apply']],
    ['apply --check', ['apply', '--check', '--diff']],
    ['remove', ['remove']],
    ['remove --check', ['remove', '--check']],
    ['reboot', ['reboot', '--serial', '1,50%', '-l', 'gone']],
    ['reboot --check', ['reboot', '--check']],
    ['diagnose', ['diagnose']],
    ['play', ['play', join(d, 'play.yml')]],
    ['play --check', ['play', join(d, 'play.yml'), '--check']],
  ];
  try {
    const seen = { raw: false, stopped: false, notStarted: false, reasons: false };
    for (const [what, args] of runs) {
      const r = await cli([...args, ...base], env);
      assert.ok(r.json, `${what}: prints one JSON document (${r.stderr.slice(0, 500)})`);
      assertRunDocument(r.json, what);
      const hosts = Object.values(r.json.hosts) as { raw?: unknown; reasons: unknown[]; details: { notStarted?: boolean } }[];
      seen.raw ||= hosts.some((h) => h.raw);
      seen.stopped ||= Boolean(r.json.stopped);
      seen.notStarted ||= hosts.some((h) => h.details.notStarted);
      seen.reasons ||= hosts.some((h) => h.reasons.length);
    }
    assert.deepEqual(seen, { raw: true, stopped: true, notStarted: true, reasons: true }, 'the outputs covered failures with raw output, a stopped rollout and robots never started');
  } finally {
    await robot.close();
  }
});
