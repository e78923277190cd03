/**
 * Inventory sources (issue 14): host lists, several -i, executable inventories, --list-form JSON,
 * ANSIBLE_INVENTORY and the ansible.cfg Ansible would find — compared with ansible-inventory live
 * where it is installed (.ci/run installs ansible-core).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryList, hostVars } from '../../src/inventory/inventory.js';
import { loadSources } from '../../src/inventory/sources.js';
import { loadAnsibleSettings } from '../../src/inventory/ansiblecfg.js';
import { targetFor } from '../../src/transport/target.js';
import { run } from '../../src/util/proc.js';
import { cli } from '../helpers/cli.js';

const hasAnsible = (await run('ansible-inventory', ['--version'], { nothrow: true }).catch(() => undefined))?.ok ?? false;
/** ansible-inventory --list with these -i sources, run in `cwd` with `env`. */
async function ansibleList(sources: string[], cwd: string, env: Record<string, string> = {}): Promise<unknown> {
  const r = await run('ansible-inventory', [...sources.flatMap((s) => ['-i', s]), '--list'], { nothrow: true, cwd, env: { ...process.env, ANSIBLE_CONFIG: join(cwd, 'none.cfg'), ...env } });
  assert.ok(r.ok, r.stderr);
  return JSON.parse(r.stdout);
}

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'fmsrc-'));
}

const SCRIPT = (meta: boolean) => `#!/usr/bin/env python3
import json, sys
inv = {
  "robots": {"hosts": ["r1", "r2"], "vars": {"site": "lab", "masquerade_interface": "wlan0"}, "children": ["arms"]},
  "arms": ["a1"],
  "all": {"vars": {"team": "ops"}},
}
hv = {"r1": {"ansible_host": "10.0.0.1", "n": 5}, "a1": {"ansible_port": 2222}}
if sys.argv[1] == "--list":
    if ${meta ? 'True' : 'False'}:
        inv["_meta"] = {"hostvars": hv}
    print(json.dumps(inv))
elif sys.argv[1] == "--host":
    print(json.dumps(hv.get(sys.argv[2], {})))
`;

for (const meta of [true, false]) {
  test(`an executable inventory ${meta ? 'with _meta' : 'without _meta (--host NAME per host)'} resolves as ansible-inventory resolves it`, async () => {
    const d = dir();
    const f = join(d, 'inv.py');
    writeFileSync(f, SCRIPT(meta), { mode: 0o755 });
    const ours = inventoryList(loadSources([f]));
    assert.deepEqual((ours as { robots: unknown }).robots, { hosts: ['r1', 'r2'], children: ['arms'] });
    assert.equal(hostVars(loadSources([f]), 'a1').ansible_port, 2222);
    assert.equal(hostVars(loadSources([f]), 'r1').site, 'lab');
    if (hasAnsible) assert.deepEqual(ours, await ansibleList([f], d));
  });
}

test('an executable inventory that fails, prints no JSON or hangs is a clear error', async () => {
  const d = dir();
  const cases: [string, RegExp][] = [
    ['#!/bin/sh\necho "cannot reach the fleet DB" >&2\nexit 3\n', /inv --list' failed \(exit 3\): cannot reach the fleet DB/],
    ['#!/bin/sh\necho "not json"\n', /inv --list' did not print JSON \(it printed: "not json"\)/],
    ['#!/bin/sh\nexec sleep 30\n', /did not finish within 1 s/],
    ['#!/bin/sh\necho \'{"robots": {"hosts": ["r1"], "vars": {"ansible_port": "x"}}}\'\n', /group 'robots': invalid value "x" for 'ansible_port'/],
  ];
  for (const [body, re] of cases) {
    const f = join(d, 'inv');
    writeFileSync(f, body, { mode: 0o755 });
    const r = await cli(['inventory', '-i', f, '--list'], { FLEETMASQ_INVENTORY_TIMEOUT: '1' });
    assert.equal(r.code, 5, r.stdout);
    assert.match(r.stderr, re);
  }
});

test('JSON in --list form is read as an inventory', () => {
  const d = dir();
  writeFileSync(join(d, 'list.json'), JSON.stringify({ _meta: { hostvars: { r1: { ansible_host: '10.0.0.9' } } }, all: { children: ['ungrouped', 'robots'] }, robots: { hosts: ['r1'] } }));
  const inv = loadSources([join(d, 'list.json')]);
  assert.deepEqual(inventoryList(inv), { _meta: { hostvars: { r1: { ansible_host: '10.0.0.9' } } }, all: { children: ['ungrouped', 'robots'] }, robots: { hosts: ['r1'] } });
});

test('a host list (-i a,b:2222,) and several -i sources, as Ansible merges them', async () => {
  const d = dir();
  writeFileSync(join(d, 'hosts.ini'), '[robots]\nr1 ansible_host=10.0.0.1 tier=ini\nshared\n[robots:vars]\nsite=a\n');
  writeFileSync(join(d, 'more.yml'), 'all:\n  children:\n    robots:\n      hosts:\n        r3: {tier: yaml}\n        shared: {tier: yaml}\n      vars: {site: b}\n');
  assert.deepEqual([...loadSources(['cam[01:03],x,']).hosts.keys()], ['cam[01:03]', 'x'], 'no ranges in a host list, as Ansible');
  const list = loadSources(['cam1,cam2:2222,']);
  assert.deepEqual(inventoryList(list), { _meta: { hostvars: { cam2: { ansible_port: 2222 } } }, all: { children: ['ungrouped'] }, ungrouped: { hosts: ['cam1', 'cam2'] } });
  const both = loadSources([join(d, 'hosts.ini'), join(d, 'more.yml'), 'extra1,']);
  assert.equal(hostVars(both, 'shared').tier, 'yaml');
  assert.equal(hostVars(both, 'r1').site, 'b', 'the later source sets the group var over the earlier');
  if (hasAnsible) {
    assert.deepEqual(inventoryList(list), await ansibleList(['cam1,cam2:2222,'], d));
    assert.deepEqual(inventoryList(both), await ansibleList([join(d, 'hosts.ini'), join(d, 'more.yml'), 'extra1,'], d));
  }
  // On the command line: -i twice.
  const r = await cli(['inventory', '-i', join(d, 'hosts.ini'), '-i', 'extra1,', '--list']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).ungrouped, { hosts: ['extra1'] });
});

test("ansible.cfg: the one Ansible finds, each setting's origin; the environment beats it, a flag beats both", async () => {
  const d = dir();
  const home = join(d, 'home');
  mkdirSync(home);
  const work = join(d, 'work');
  mkdirSync(work);
  writeFileSync(join(home, '.ansible.cfg'), '[defaults]\ninventory = home-hosts\n');
  writeFileSync(join(work, 'ansible.cfg'), '[defaults]\ninventory = hosts.ini , more.yml ; two of them\nremote_user = ops\nprivate_key_file = keys/fleet\nforks: 20\ntimeout = 7\nhost_key_checking = False\n');
  writeFileSync(join(work, 'hosts.ini'), '[robots]\nr1 ansible_host=10.0.0.1\n');
  writeFileSync(join(work, 'more.yml'), 'all:\n  hosts:\n    r2: {ansible_user: own}\n');
  const s = loadAnsibleSettings({ HOME: home }, work);
  assert.equal(s.file, join(work, 'ansible.cfg'), './ansible.cfg before ~/.ansible.cfg');
  assert.deepEqual(s.inventory.value, [join(work, 'hosts.ini'), join(work, 'more.yml')], 'relative to the config file');
  assert.match(s.inventory.origin, /ansible\.cfg:2: \[defaults\] inventory$/);
  assert.equal(s.remoteUser?.value, 'ops');
  assert.equal(s.privateKeyFile?.value, join(work, 'keys/fleet'));
  assert.deepEqual([s.forks.value, s.timeout.value, s.hostKeyChecking.value], [20, 7, false]);
  const env = loadAnsibleSettings({ HOME: home, ANSIBLE_FORKS: '9', ANSIBLE_HOST_KEY_CHECKING: 'yes', ANSIBLE_CONFIG: join(home, '.ansible.cfg') }, work);
  assert.equal(env.file, join(home, '.ansible.cfg'), '$ANSIBLE_CONFIG first');
  assert.deepEqual([env.forks.value, env.forks.origin, env.hostKeyChecking.value], [9, 'env: ANSIBLE_FORKS', true]);
  chmodSync(work, 0o777);
  const open = loadAnsibleSettings({ HOME: home }, work);
  assert.equal(open.file, join(home, '.ansible.cfg'), 'a world-writable folder\'s ansible.cfg is ignored, as Ansible ignores it');
  assert.match(open.warnings.join('\n'), /is ignored: its folder is world-writable/);
  chmodSync(work, 0o755);

  // The run uses it: no -i needed; remote_user below a host's own ansible_user; forks; host keys off.
  const cwd = process.cwd();
  process.chdir(work);
  try {
    const r = await cli(['inventory', '--list'], { HOME: home, ANSIBLE_CONFIG: undefined });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(JSON.parse(r.stdout)._meta.hostvars).sort(), ['r1', 'r2']);
    if (hasAnsible) assert.deepEqual(JSON.parse(r.stdout), await ansibleList([], work, { HOME: home, ANSIBLE_CONFIG: join(work, 'ansible.cfg') }));
    const { fleetSetup } = await import('../../src/cli/fleet.js');
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      const setup = fleetSetup({});
      assert.equal(setup.forks, 20);
      assert.equal(setup.transport.hostKeyChecking, 'off');
      assert.equal(targetFor('r1', hostVars(setup.inventory, 'r1'), setup.transport).user, 'ops');
      assert.equal(targetFor('r2', hostVars(setup.inventory, 'r2'), setup.transport).user, 'own');
      assert.deepEqual(targetFor('r1', hostVars(setup.inventory, 'r1'), setup.transport).identityFiles[0], join(work, 'keys/fleet'));
      assert.equal(fleetSetup({ forks: '3', 'host-key-checking': 'strict' }).transport.hostKeyChecking, 'strict');
    } finally {
      process.env.HOME = saved;
    }
    const c = await cli(['config', '--json'], { HOME: home });
    const rows = JSON.parse(c.stdout).settings as { setting: string; value: string; origin: string }[];
    assert.deepEqual(rows.find((x) => x.setting === 'remote_user'), { setting: 'remote_user', value: 'ops', origin: `${join(work, 'ansible.cfg')}:3: [defaults] remote_user` });
    assert.equal(rows.find((x) => x.setting === 'host_key_checking')!.value, 'false');
  } finally {
    process.chdir(cwd);
  }
});

test('review fixes: a data file with the exec bit is read as data; bad ranges and cycles are errors; the short --list form', async () => {
  const d = dir();
  const f = join(d, 'hosts');
  writeFileSync(f, '[robots]\nr1 note=$(touch${IFS}/tmp/fleetmasq-pwned)\n', { mode: 0o755 });
  const inv = loadSources([f]);
  assert.equal(hostVars(inv, 'r1').note, '$(touch${IFS}/tmp/fleetmasq-pwned)', 'read as INI, never run');
  const { ConfigError } = await import('../../src/errors.js');
  writeFileSync(join(d, 'step0.ini'), '[r]\nx[0:3:0]\n');
  assert.throws(() => loadSources([join(d, 'step0.ini')]), (e: unknown) => e instanceof ConfigError && /step must be 1 or more/.test(e.message));
  writeFileSync(join(d, 'cycle.ini'), '[a:children]\nb\n[b:children]\na\n');
  assert.throws(() => loadSources([join(d, 'cycle.ini')]), /its own ancestor/);
  writeFileSync(join(d, 'short.json'), JSON.stringify({ r2: { ansible_host: '10.0.0.2' }, robots: ['r3'] }));
  const short = loadSources([join(d, 'short.json')]);
  assert.equal(hostVars(short, 'r2').ansible_host, '10.0.0.2');
  assert.deepEqual([...short.hosts.keys()].sort(), ['r2', 'r3']);
});
