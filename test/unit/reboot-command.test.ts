/**
 * A robot's own reboot and boot id commands: what a command line may hold (nothing a shell would
 * interpret), that inventories and playbooks holding anything else are refused before any robot is
 * contacted, and — under a real sh with stub commands — that each word arrives as one argument.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootIdSh, commandWords, startRebootSh, wellFormedBootId } from '../../src/remote/reboot.js';
import { run } from '../../src/util/proc.js';
import { cli } from '../helpers/cli.js';

test('reboot commands: plain command lines are words; anything a shell would interpret is refused', () => {
  assert.deepEqual(commandWords('shutdown -r +0'), ['shutdown', '-r', '+0']);
  assert.deepEqual(commandWords('/opt/vendor/bin/reboot --delay=5 --tag=fleet,ops@robot'), ['/opt/vendor/bin/reboot', '--delay=5', '--tag=fleet,ops@robot']);
  for (const bad of ['reboot; id', 'reboot && id', '$(id)', '`id`', 'reboot | tee', 'echo >/etc/x', "shutdown -r now 'bye'", 'shutdown  -r', ' reboot', 'reboot ', 'rm -rf /*', '~/reboot', 'a\nb', 'a\tb', '', 'x'.repeat(257), '${IFS}', 'shutdown -r %H']) {
    assert.equal(commandWords(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(commandWords(42), undefined);
  assert.equal(commandWords('x'.repeat(256))?.length, 1);
  // Boot ids: the kernel's is a UUID; an operator's command may print any one printable line.
  assert.equal(wellFormedBootId('vendor-1733280000', true), true);
  assert.equal(wellFormedBootId('vendor-1733280000', false), false);
  assert.equal(wellFormedBootId('', true), false);
  assert.equal(wellFormedBootId('a\u0007b', true), false);
  assert.equal(bootIdSh(), 'cat /proc/sys/kernel/random/boot_id');
});

test('reboot commands under a real sh: each word is one argument, on systemd (systemd-run) and without it', async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmreboot-'));
  // Stubs that record their argv one per line.
  const rec = (name: string) => `#!/bin/sh\nfor a; do printf '%s\\n' "$a"; done > ${d}/${name}.args\n`;
  writeFileSync(join(d, 'systemd-run'), rec('systemd-run'), { mode: 0o755 });
  writeFileSync(join(d, 'vendor-reboot'), rec('vendor'), { mode: 0o755 });
  const words = [join(d, 'vendor-reboot'), '-r', '+0', '--tag=a,b@c:d'];
  const env = { ...process.env, PATH: `${d}:/usr/bin:/bin` };
  const sd = await run('sh', ['-c', `set -e\n${startRebootSh(true, words)}`], { env });
  assert.equal(sd.exitCode, 0, sd.stderr);
  assert.deepEqual(readFileSync(join(d, 'systemd-run.args'), 'utf8').trim().split('\n'), ['--quiet', '--on-active=1', '--timer-property=AccuracySec=100ms', '--', ...words]);
  // Without systemd: detached, 1 s later, the command itself with its words.
  const plain = await run('sh', ['-c', `set -e\n${startRebootSh(false, words)}`], { env });
  assert.equal(plain.exitCode, 0, plain.stderr);
  for (let i = 0; i < 100 && !existsSync(join(d, 'vendor.args')); i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(readFileSync(join(d, 'vendor.args'), 'utf8').trim().split('\n'), words.slice(1));
  // The boot id command: its words, quoted.
  writeFileSync(join(d, 'vendor-id'), '#!/bin/sh\necho "id:$#:$1"\n', { mode: 0o755 });
  const id = await run('sh', ['-c', bootIdSh([join(d, 'vendor-id'), '--format=a,b'])], { env });
  assert.equal(id.stdout.trim(), 'id:1:--format=a,b');
});

test('reboot commands: an inventory or a playbook holding shell syntax is refused before any robot is contacted (exit 5)', async () => {
  const d = mkdtempSync(join(tmpdir(), 'fmrebootinv-'));
  // Port 1 on loopback: nothing is contacted (a contact would fail differently, as unreachable).
  const inv = (v: string) => `all:\n  hosts:\n    r1: { ansible_host: 127.0.0.1, ansible_port: 1, masquerade_reboot_command: ${JSON.stringify(v)} }\n`;
  writeFileSync(join(d, 'bad.yml'), inv('reboot; touch /tmp/pwned'));
  const r = await cli(['reboot', '-i', join(d, 'bad.yml')]);
  assert.equal(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stderr, /masquerade_reboot_command/);
  writeFileSync(join(d, 'badid.yml'), `all:\n  hosts:\n    r1: { ansible_host: 127.0.0.1, ansible_port: 1, masquerade_boot_id_command: "cat $(x)" }\n`);
  const id = await cli(['reboot', '-i', join(d, 'badid.yml')]);
  assert.equal(id.code, 5, id.stdout + id.stderr);
  assert.match(id.stderr, /masquerade_boot_id_command/);
  // A playbook: Ansible's names, literal and templated from a robot's var.
  writeFileSync(join(d, 'ok.yml'), `all:\n  hosts:\n    r1: { ansible_host: 127.0.0.1, ansible_port: 1, vendor: "reboot;id" }\n`);
  writeFileSync(join(d, 'pb1.yml'), `- hosts: all\n  tasks:\n    - reboot: { reboot_command: "shutdown -r now; id" }\n`);
  const p1 = await cli(['play', join(d, 'pb1.yml'), '-i', join(d, 'ok.yml')]);
  assert.equal(p1.code, 5, p1.stdout + p1.stderr);
  assert.match(p1.stderr, /reboot_command/);
  writeFileSync(join(d, 'pb2.yml'), `- hosts: all\n  tasks:\n    - reboot: { boot_time_command: "{{ vendor }}" }\n`);
  const p2 = await cli(['play', join(d, 'pb2.yml'), '-i', join(d, 'ok.yml')]);
  assert.equal(p2.code, 5, p2.stdout + p2.stderr);
  assert.match(p2.stderr, /invalid boot_time_command "reboot;id"/);
});
