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

// ---- issue 29: inventories as teams have them ----

const FACTS_SCRIPT = `#!/usr/bin/env python3
import json, sys
facts = {"ansible_distribution": "Debian", "ansible_os_family": "Debian", "ansible_uuid": "4c4c4544-0042",
         "ansible_ec2_instance_id": "i-0abc", "ansible_ec2_placement_region": "eu-west-1", "ansible_user_id": "ops",
         "ansible_hostnqn": "", "ansible_usr": "ops"}
hv = {f"r{i}": dict(facts, ansible_host=f"10.0.0.{i}") for i in range(1, 6)}
print(json.dumps({"_meta": {"hostvars": hv}, "robots": {"hosts": sorted(hv)}}))
`;

test('variables dynamic inventories and fact caches set are read as ansible-inventory reads them; a near miss warns once; --strict-vars makes it exit 5', async () => {
  const d = dir();
  const f = join(d, 'ec2.py');
  writeFileSync(f, FACTS_SCRIPT, { mode: 0o755 });
  const inv = loadSources([f]);
  assert.equal(hostVars(inv, 'r3').ansible_ec2_instance_id, 'i-0abc');
  if (hasAnsible) assert.deepEqual(inventoryList(inv), await ansibleList([f], d));
  const r = await cli(['inventory', '-i', f, '--list']);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  assert.deepEqual(warnings, [`warning: ${f}: unknown variable 'ansible_usr' (did you mean 'ansible_user'?) on host 'r1' and 4 more: fleetmasq ignores it (--strict-vars makes this an error)`], 'once per inventory, only the near miss (not ansible_uuid, ansible_user_id, ansible_hostnqn)');
  const strict = await cli(['inventory', '-i', f, '--list', '--strict-vars']);
  assert.equal(strict.code, 5);
  assert.match(strict.stderr, /unknown variable 'ansible_usr' \(did you mean 'ansible_user'\?\)/);
  assert.equal((await cli(['inventory', '-i', f, '--list'], { FLEETMASQ_STRICT_VARS: 'yes' })).code, 5, 'the setting (environment) does the same');
  const cfgDir = dir();
  writeFileSync(join(cfgDir, 'ansible.cfg'), '[defaults]\n[fleetmasq]\nstrict_vars = true\n');
  assert.equal(loadAnsibleSettings({ ANSIBLE_CONFIG: join(cfgDir, 'ansible.cfg'), HOME: cfgDir }, cfgDir).strictVars.value, true, 'and [fleetmasq] strict_vars in ansible.cfg');
  const shown = await cli(['config', '--json'], { ANSIBLE_CONFIG: join(cfgDir, 'ansible.cfg') });
  assert.deepEqual((JSON.parse(shown.stdout).settings as { setting: string; value: string; origin: string }[]).find((x) => x.setting === 'strict_vars')?.value, 'true', 'fleetmasq config shows it and its origin');
  // The YAML and INI paths too: a typo in group vars is one warning.
  writeFileSync(join(d, 'hosts.ini'), '[robots]\nr1\nr2\n[robots:vars]\nansible_prot=2222\nansible_distribution=Ubuntu\n');
  const ini = loadSources([join(d, 'hosts.ini')]);
  assert.deepEqual(ini.warnings, [`${join(d, 'hosts.ini')}:5:1: unknown variable 'ansible_prot' (did you mean 'ansible_port'?) on group 'robots': fleetmasq ignores it (--strict-vars makes this an error)`], 'with the file, line and column where it was set');
  assert.throws(() => loadSources([join(d, 'hosts.ini')], { strictVars: true }), (e: unknown) => e instanceof Error && /hosts\.ini:5:1: unknown variable 'ansible_prot'/.test(e.message));
  // YAML, and group_vars files: where it was set, too.
  const d2 = dir();
  writeFileSync(join(d2, 'hosts.yml'), 'all:\n  hosts:\n    r1:\n      ansible_hots: 10.0.0.1\n');
  mkdirSync(join(d2, 'group_vars'), { recursive: true });
  writeFileSync(join(d2, 'group_vars', 'all.yml'), 'x: 1\nansible_become_usr: root\n');
  const yml = loadSources([join(d2, 'hosts.yml')]);
  assert.deepEqual(yml.warnings.map((w) => w.replace(/ on .*/, '')), [
    `${join(d2, 'group_vars', 'all.yml')}:2:1: unknown variable 'ansible_become_usr' (did you mean 'ansible_become_user'?)`,
    `${join(d2, 'hosts.yml')}:4:7: unknown variable 'ansible_hots' (did you mean 'ansible_host'?)`,
  ]);
});

test('non-ASCII inventory names with ansible_host, as Ansible reads them; what reaches SSH is still checked as OpenSSH checks it', async () => {
  const d = dir();
  writeFileSync(join(d, 'hosts.yml'), 'all:\n  children:\n    depots:\n      hosts:\n        příbor: {ansible_host: 10.0.0.7}\n        東京-01: {ansible_host: 10.0.0.8}\n        ünïcode: {}\n');
  writeFileSync(join(d, 'hosts.ini'), '[depots]\npříbor ansible_host=10.0.0.7\nžďár:2222 ansible_host=10.0.0.9\n');
  for (const f of ['hosts.yml', 'hosts.ini']) {
    const inv = loadSources([join(d, f)]);
    assert.equal(hostVars(inv, 'příbor').ansible_host, '10.0.0.7');
    assert.equal(targetFor('příbor', hostVars(inv, 'příbor')).host, '10.0.0.7');
    if (hasAnsible) {
      assert.deepEqual(inventoryList(inv), await ansibleList([join(d, f)], d));
      // And the same bytes (Python sorts by code point and writes UTF-8 unescaped).
      const ours = await cli(['inventory', '-i', join(d, f), '--list']);
      const theirs = await run('ansible-inventory', ['-i', join(d, f), '--list'], { nothrow: true, cwd: d, env: { ...process.env, ANSIBLE_CONFIG: join(d, 'none.cfg') } });
      assert.equal(ours.stdout, `${theirs.stdout.trimEnd()}\n`, f);
    }
  }
  writeFileSync(join(d, 'bad.yml'), 'all:\n  hosts:\n    r1: {ansible_host: "x;id"}\n');
  const r = await cli(['inventory', '-i', join(d, 'bad.yml'), '--list']);
  assert.equal(r.code, 5, 'an address with shell characters is refused as before');
  const { ConfigError } = await import('../../src/errors.js');
  // A name that is also the address (no ansible_host) must pass OpenSSH's rules where it is used.
  const inv = loadSources(['a$(id),']);
  assert.throws(() => targetFor('a$(id)', hostVars(inv, 'a$(id)')), (e: unknown) => e instanceof ConfigError && /could reach a shell/.test(e.message));
});

// ---- issue 24 (6, 7): parsers bounded, secrets kept from inventory programs ----

test('nesting: a Python literal deeper than 200 brackets stays text, as Ansible keeps it (no stack overflow); YAML/JSON deeper than 200 is exit 5', async () => {
  const d = dir();
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  writeFileSync(join(d, 'deep.ini'), `[g]\nh200 x=${deep(200)}\nh201 x=${deep(201)}\nh3000 x=${deep(3000)}\n`);
  const inv = loadSources([join(d, 'deep.ini')]);
  assert.ok(Array.isArray(hostVars(inv, 'h200').x), '200 deep is still a literal');
  assert.equal(hostVars(inv, 'h201').x, deep(201));
  assert.equal(hostVars(inv, 'h3000').x, deep(3000));
  if (hasAnsible) {
    writeFileSync(join(d, 'deep2.ini'), `[g]\nh201 x=${deep(201)}\nh3000 x=${deep(3000)}\n`);
    assert.deepEqual(inventoryList(loadSources([join(d, 'deep2.ini')])), await ansibleList([join(d, 'deep2.ini')], d));
  }
  for (const [name, text] of [
    ['deep.yml', `all:\n  vars:\n    x: ${deep(3000)}\n`],
    ['deep201.yml', `all:\n  vars:\n    x: ${deep(201)}\n`],
    ['deep.json', `{"_meta": {"hostvars": {"r1": {"x": ${deep(5000)}}}}, "g": {"hosts": ["r1"]}}`],
  ]) {
    writeFileSync(join(d, name), text);
    const r = await cli(['inventory', '-i', join(d, name), '--list']);
    assert.equal(r.code, 5, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /nested too deep \(the limit is 200 levels\)/, name);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('a YAML alias bomb is exit 5 with a clear message', async () => {
  const d = dir();
  let y = 'all:\n  vars:\n    a0: &a0 [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 9; i++) y += `    a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]\n`;
  writeFileSync(join(d, 'bomb.yml'), y);
  const r = await cli(['inventory', '-i', join(d, 'bomb.yml'), '--list']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /too many expansions of YAML aliases/);
  // An alias with no anchor before it is its own error (yaml throws the same ReferenceError for both).
  writeFileSync(join(d, 'unresolved.yml'), 'all:\n  vars:\n    a: *nope\n    b: &nope 1\n');
  const u = await cli(['inventory', '-i', join(d, 'unresolved.yml'), '--list']);
  assert.equal(u.code, 5, u.stderr);
  assert.match(u.stderr, /unresolved\.yml:3:.*unresolved YAML alias \*nope \(its anchor must be set before the alias\)/);
  assert.doesNotMatch(u.stderr, /too many expansions/);
});

test('host ranges: more than 100,000 names is refused (exit 5), before any is built; 100,000 are built (linear), in INI and YAML', async () => {
  const d = dir();
  const { expandHostRange, MAX_RANGE_HOSTS } = await import('../../src/inventory/inventory.js');
  assert.equal(MAX_RANGE_HOSTS, 100_000);
  for (const [name, text] of [
    ['huge.ini', '[g]\nr[0:99999999]\n'],
    ['huge.yml', 'all:\n  hosts:\n    r[0:99999999]:\n'],
    ['two.ini', '[g]\nr[0:999]-[0:999]\n'],
  ]) {
    writeFileSync(join(d, name), text);
    const r = await cli(['inventory', '-i', join(d, name), '--list']);
    assert.equal(r.code, 5, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /makes more than 100,000 names \(the limit for one pattern\)/);
  }
  assert.deepEqual(expandHostRange('r[1:2]-[a:b]'), ['r1-a', 'r1-b', 'r2-a', 'r2-b']);
  // 100,000 hosts: the old code added each to its group by scanning the group's list (quadratic: 26 s).
  writeFileSync(join(d, 'big.ini'), '[g]\nr[000000:099999]\n[h]\nr[000000:099999]\n');
  const inv = loadSources([join(d, 'big.ini')]);
  assert.equal(inv.hosts.size, 100_000);
  assert.equal(inv.groups.get('g')!.hosts.length, 100_000);
  assert.equal(inv.groups.get('ungrouped')!.hosts.length, 0);
});

test('one INI line with 50,000 key=value pairs and a 60,000-character ansible.cfg line are read in one pass', async () => {
  const d = dir();
  const kv = Array.from({ length: 50_000 }, (_, i) => `k${i}=${i}`).join(' ');
  writeFileSync(join(d, 'wide.ini'), `[g]\nh ${kv}\n`);
  const inv = loadSources([join(d, 'wide.ini')]);
  assert.equal(hostVars(inv, 'h').k49999, 49999);
  assert.equal(Object.keys(hostVars(inv, 'h')).length, 50_000);
  // One pass from left to right: each key's column is found after the previous key, so a key that is a
  // suffix or prefix of an earlier one (ansible_port after xansible_port) is not placed at the earlier one.
  writeFileSync(join(d, 'cols.ini'), '[g]\nh xansible_port=1 ansible_port=notaport\n');
  assert.throws(() => loadSources([join(d, 'cols.ini')]), /cols\.ini:2:19: invalid value "notaport" for 'ansible_port'/);
  // The old pattern backtracked over every split of a long run of spaces (4 s for 60k characters).
  const { parseCfg } = await import('../../src/inventory/ansiblecfg.js');
  const cfg = parseCfg(`[defaults]\nremote_user ${' '.repeat(60_000)}= ops ; comment\n`, 'ansible.cfg');
  assert.equal(cfg.get('defaults')!.get('remote_user')!.value, 'ops');
  assert.throws(() => parseCfg(`[defaults]\nk${' '.repeat(60_000)}x\n`, 'ansible.cfg'), /not a 'key = value' line/);
  assert.equal(parseCfg('[defaults]\na: b = c\n', 'f').get('defaults')!.get('a')!.value, 'b = c', 'split at the first = or :, as configparser');
});

test('an executable inventory gets no secret: not the sudo password, not FLEETMASQ_/ANSIBLE_ password, secret or token variables', async () => {
  const d = dir();
  const f = join(d, 'inv');
  writeFileSync(f, `#!/bin/sh\nenv > ${join(d, 'env.txt')}\necho '{"g": {"hosts": ["r1"]}}'\n`, { mode: 0o755 });
  const r = await cli(['inventory', '-i', f, '--list'], {
    FLEETMASQ_BECOME_PASSWORD: 'sudo-pw-1',
    FLEETMASQ_KEY_PASSPHRASE: 'pp-2',
    ANSIBLE_BECOME_PASS: 'pw-3',
    ANSIBLE_VAULT_PASSWORD_FILE: '/tmp/vault-4',
    FLEETMASQ_INVENTORY_TIMEOUT: '30',
    AWS_PROFILE: 'fleet',
  });
  assert.equal(r.code, 0, r.stderr);
  const { readFileSync } = await import('node:fs');
  const env = readFileSync(join(d, 'env.txt'), 'utf8');
  for (const secret of ['sudo-pw-1', 'pp-2', 'pw-3', 'vault-4']) assert.ok(!env.includes(secret), `${secret} must not reach the inventory program`);
  assert.match(env, /^AWS_PROFILE=fleet$/m, "a cloud inventory keeps its own settings");
  assert.match(env, /^FLEETMASQ_INVENTORY_TIMEOUT=30$/m);
});

test('an executable inventory whose JSON is nested 5,000 deep is exit 5, not a stack trace', async () => {
  const d = dir();
  const f = join(d, 'inv');
  writeFileSync(f, `#!/bin/sh\necho '{"_meta": {"hostvars": {"r1": {"x": ${'['.repeat(5000)}${']'.repeat(5000)}}}}, "g": {"hosts": ["r1"]}}'\n`, { mode: 0o755 });
  const r = await cli(['inventory', '-i', f, '--list']);
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /nested too deep/);
});

// ---- issue 29 (3): inventory plugin configs through ansible-inventory ----

test('a constructed plugin config over a static inventory is read through ansible-inventory, as Ansible reads it', async (t) => {
  const d = dir();
  writeFileSync(join(d, 'static.ini'), '[robots]\nr1 ansible_host=10.0.0.1 site=lab\nr2 site=depot\n');
  writeFileSync(join(d, 'constructed.yml'), 'plugin: ansible.builtin.constructed\nstrict: false\ngroups:\n  at_lab: site == "lab"\nkeyed_groups:\n  - key: site\n    prefix: site\ncompose:\n  tag: site + "-x"\n');
  const { pluginOf } = await import('../../src/inventory/sources.js');
  assert.equal(pluginOf(join(d, 'constructed.yml')), 'ansible.builtin.constructed');
  assert.equal(pluginOf(join(d, 'static.ini')), undefined);
  if (!hasAnsible) return t.skip('ansible-inventory not installed (CI installs it)');
  const inv = loadSources([join(d, 'static.ini'), join(d, 'constructed.yml')]);
  assert.deepEqual(inv.groups.get('at_lab')!.hosts, ['r1']);
  assert.equal(hostVars(inv, 'r2').tag, 'depot-x');
  const ours = await cli(['inventory', '-i', join(d, 'static.ini'), '-i', join(d, 'constructed.yml'), '--list']);
  assert.equal(ours.code, 0, ours.stderr);
  const theirs = await run('ansible-inventory', ['-i', join(d, 'static.ini'), '-i', join(d, 'constructed.yml'), '--list'], { nothrow: true, cwd: d, env: { ...process.env, ANSIBLE_CONFIG: join(d, 'none.cfg') } });
  assert.equal(ours.stdout, `${theirs.stdout.trimEnd()}\n`, 'the same bytes');
});

test('a plugin config whose collection is missing, or with no ansible-core at all, is a clear error with the one-line workaround', async (t) => {
  const d = dir();
  writeFileSync(join(d, 'aws_ec2.yml'), 'plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n');
  // No ansible-core: an empty PATH finds no ansible-inventory.
  const none = await cli(['inventory', '-i', join(d, 'aws_ec2.yml'), '--list'], { PATH: d });
  assert.equal(none.code, 5, none.stderr);
  assert.match(none.stderr, /aws_ec2\.yml is an inventory plugin config \(plugin: amazon\.aws\.aws_ec2\): Ansible's plugin reads it, and ansible-inventory \(ansible-core\) is not installed here\. .*ansible-inventory -i \S*aws_ec2\.yml --list > inventory\.json/);
  if (!hasAnsible) return t.skip('ansible-inventory not installed (CI installs it)');
  const galaxy = await run('ansible-galaxy', ['collection', 'list', 'amazon.aws'], { nothrow: true });
  if (galaxy.ok && /amazon\.aws/.test(galaxy.stdout)) return t.skip('amazon.aws is installed here');
  const r = await cli(['inventory', '-i', join(d, 'aws_ec2.yml'), '--list'], { ANSIBLE_CONFIG: join(d, 'none.cfg') });
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, /ansible-core here does not have the plugin 'amazon\.aws\.aws_ec2' \(ansible-galaxy collection install amazon\.aws\)\. .*ansible-inventory -i \S*aws_ec2\.yml --list > inventory\.json, then -i inventory\.json/);
  // Given as a file without .yml, the YAML reader names it too (not "'plugin' must be object or null").
  writeFileSync(join(d, 'aws'), 'plugin: amazon.aws.aws_ec2\n');
  const plain = await cli(['inventory', '-i', join(d, 'aws'), '--list']);
  assert.equal(plain.code, 5);
  assert.match(plain.stderr, /an inventory plugin config \(plugin: amazon\.aws\.aws_ec2\)/);
});

// ---- issue 25 (5): Ansible's habits ----

test('-i DIR: every file in the folder in Ansible\'s order (scripts too, .ini skipped as Ansible skips it), with its group_vars and host_vars; byte-identical to ansible-inventory', async () => {
  const d = dir();
  const inv = join(d, 'inventory');
  for (const sub of ['group_vars', 'host_vars', 'sub']) mkdirSync(join(inv, sub), { recursive: true });
  writeFileSync(join(inv, '01-hosts.yml'), 'all:\n  children:\n    robots:\n      hosts:\n        r1: {ansible_host: 10.0.0.1}\n        r2:\n');
  writeFileSync(join(inv, '02-static'), '[depots]\nd1\nr2\n[robots:vars]\nsite=b\n');
  writeFileSync(join(inv, '03-ignored.ini'), '[ignored]\nx1\n');
  writeFileSync(join(inv, '04-script'), `#!/bin/sh\necho '{"cams": {"hosts": ["c1"]}, "_meta": {"hostvars": {"c1": {"n": 1}}}}'\n`, { mode: 0o755 });
  writeFileSync(join(inv, 'sub', 'more.yml'), 'all:\n  hosts:\n    s1:\n');
  writeFileSync(join(inv, 'README.md'), 'notes\n');
  writeFileSync(join(inv, 'group_vars', 'robots.yml'), 'site: a\nteam: ops\n');
  writeFileSync(join(inv, 'group_vars', 'all.yml'), 'x: 1\n');
  writeFileSync(join(inv, 'host_vars', 'd1.yml'), 'role: depot\n');
  const loaded = loadSources([inv]);
  assert.deepEqual([...loaded.hosts.keys()].sort(), ['c1', 'd1', 'r1', 'r2', 's1']);
  assert.equal(hostVars(loaded, 'r2').site, 'a', 'group_vars of the folder over [robots:vars] of a file in it');
  assert.equal(hostVars(loaded, 'd1').role, 'depot');
  assert.ok(!loaded.hosts.has('x1'), '.ini files in a folder are skipped, as Ansible skips them');
  const ours = await cli(['inventory', '-i', inv, '--list']);
  assert.equal(ours.code, 0, ours.stderr);
  if (hasAnsible) {
    const theirs = await run('ansible-inventory', ['-i', inv, '--list'], { nothrow: true, cwd: d, env: { ...process.env, ANSIBLE_CONFIG: join(d, 'none.cfg') } });
    assert.equal(ours.stdout, `${theirs.stdout.trimEnd()}\n`);
  }
  // A file in it that is no inventory is an error that names it (Ansible warns and skips it).
  writeFileSync(join(inv, 'notes'), 'some notes here\n');
  const stray = await cli(['inventory', '-i', inv, '--list']);
  assert.equal(stray.code, 5);
  assert.match(stray.stderr, /inventory\/notes:1:\d+: /);
  const empty = join(d, 'empty');
  mkdirSync(join(empty, 'group_vars'), { recursive: true });
  const none = await cli(['inventory', '-i', empty, '--list']);
  assert.equal(none.code, 5);
  assert.match(none.stderr, /an inventory folder with no inventory file in it/);
});

test('inventory --list is byte-identical to ansible-inventory --list on the corpus (its key order; its unsorted form when Python cannot sort)', async () => {
  const { readdirSync } = await import('node:fs');
  const files = [
    ...readdirSync('test/fixtures/ini').filter((f) => f.endsWith('.ini') && !/^bad-|undefined/.test(f)).map((f) => join('test/fixtures/ini', f)),
    'test/fixtures/inventory/hosts.yml',
  ];
  const { ansibleJson } = await import('../../src/inventory/listjson.js');
  // Without ansible-core: the stored outputs, sorted as it sorts (the stored files are in the old order).
  assert.equal(ansibleJson({ b: 1, _meta: { hostvars: {} }, a: [3, 1], B: { y: 1e22, x: 1.5, z: 1e-5, w: 1.25e-7 } }).text, '{\n    "B": {\n        "w": 1.25e-07,\n        "x": 1.5,\n        "y": 10000000000000000000000,\n        "z": 1e-05\n    },\n    "_meta": {\n        "hostvars": {}\n    },\n    "a": [\n        3,\n        1\n    ],\n    "b": 1\n}');
  const { readFileSync } = await import('node:fs');
  for (const f of files) {
    const ours = await cli(['inventory', '-i', f, '--list']);
    assert.equal(ours.code, 0, `${f}: ${ours.stderr}`);
    // The stored outputs are ansible-core 2.14's own bytes: compared without ansible-core too.
    const stored = f.endsWith('.ini') ? f.replace(/\.ini$/, '.expected.json') : 'test/fixtures/inventory/expected-list.json';
    assert.equal(ours.stdout, `${readFileSync(stored, 'utf8').trimEnd()}\n`, `${f} against ${stored}`);
    if (!hasAnsible) continue;
    const theirs = await run('ansible-inventory', ['-i', f, '--list'], { nothrow: true, env: { ...process.env, ANSIBLE_CONFIG: '/nonexistent/ansible.cfg' } });
    assert.equal(ours.stdout, `${theirs.stdout.trimEnd()}\n`, f);
    const host = Object.keys(JSON.parse(ours.stdout)._meta.hostvars)[0];
    if (host === undefined) continue;
    const ourHost = await cli(['inventory', '-i', f, '--host', host]);
    const theirHost = await run('ansible-inventory', ['-i', f, '--host', host], { nothrow: true, env: { ...process.env, ANSIBLE_CONFIG: '/nonexistent/ansible.cfg' } });
    assert.equal(ourHost.stdout, `${theirHost.stdout.trimEnd()}\n`, `${f} --host ${host}`);
  }
});

test('-u USER and --private-key FILE as Ansible takes them: over ansible.cfg for the run, below a host\'s own variables; checked', async () => {
  const d = dir();
  writeFileSync(join(d, 'hosts.yml'), 'all:\n  hosts:\n    r1: {ansible_host: 10.0.0.1}\n    r2: {ansible_host: 10.0.0.2, ansible_user: own, ansible_ssh_private_key_file: /keys/own}\n');
  writeFileSync(join(d, 'ansible.cfg'), '[defaults]\nremote_user = cfguser\nprivate_key_file = cfg.key\n');
  writeFileSync(join(d, 'fleet.key'), 'not really a key\n');
  const { fleetSetup } = await import('../../src/cli/fleet.js');
  const saved = process.env.ANSIBLE_CONFIG;
  process.env.ANSIBLE_CONFIG = join(d, 'ansible.cfg');
  try {
    const setup = fleetSetup({ inventory: [join(d, 'hosts.yml')], user: 'ops', 'private-key': join(d, 'fleet.key') });
    const r1 = targetFor('r1', hostVars(setup.inventory, 'r1'), setup.transport);
    const r2 = targetFor('r2', hostVars(setup.inventory, 'r2'), setup.transport);
    assert.equal(r1.user, 'ops');
    assert.equal(r1.identityFiles[0], join(d, 'fleet.key'));
    assert.equal(r2.user, 'own', "a host's ansible_user wins over -u, as in Ansible");
    assert.equal(r2.identityFiles[0], '/keys/own');
    const cfgOnly = fleetSetup({ inventory: [join(d, 'hosts.yml')] });
    assert.equal(targetFor('r1', hostVars(cfgOnly.inventory, 'r1'), cfgOnly.transport).user, 'cfguser');
  } finally {
    if (saved === undefined) delete process.env.ANSIBLE_CONFIG;
    else process.env.ANSIBLE_CONFIG = saved;
  }
  const badUser = await cli(['check', '-i', join(d, 'hosts.yml'), '-u', 'root;id']);
  assert.equal(badUser.code, 5);
  assert.match(badUser.stderr, /-u\/--user "root;id" is not a user name/);
  const badKey = await cli(['check', '-i', join(d, 'hosts.yml'), '--private-key', join(d, 'nope.key')]);
  assert.equal(badKey.code, 5);
  assert.match(badKey.stderr, /--private-key .*nope\.key: cannot read it \(ENOENT\)/);
});
