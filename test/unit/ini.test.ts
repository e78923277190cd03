/**
 * INI inventories (issue 14): Ansible's semantics, measured. Every file of the corpus (Ansible's own
 * inventory-guide examples, typing, priorities, ports, ranges, errors) resolves to exactly what
 * ansible-inventory --list gives: stored output of ansible-core 2.14, and live when it is installed.
 * A file Ansible refuses is an error here at the line Ansible names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { inventoryList, loadInventory } from '../../src/inventory/inventory.js';
import { ConfigError } from '../../src/errors.js';
import { literalEval } from '../../src/inventory/pyliteral.js';
import { shlexSplit } from '../../src/inventory/shlex.js';
import { run } from '../../src/util/proc.js';

const DIR = 'test/fixtures/ini';
const files = readdirSync(DIR).filter((f) => f.endsWith('.ini')).sort();
const hasAnsible = (await run('ansible-inventory', ['--version'], { nothrow: true }).catch(() => undefined))?.ok ?? false;

for (const f of files) {
  const path = join(DIR, f);
  const base = path.replace(/\.ini$/, '');
  if (existsSync(`${base}.error`)) {
    const [line, re] = readFileSync(`${base}.error`, 'utf8').trim().split('\t');
    test(`INI ${f}: refused at line ${line}, as Ansible refuses it`, async () => {
      assert.throws(() => loadInventory(path), (e: unknown) => e instanceof ConfigError && e.line === Number(line) && new RegExp(re!).test(e.message));
      if (hasAnsible) {
        const r = await run('ansible-inventory', ['-i', path, '--list'], { nothrow: true });
        assert.match(r.stderr.replace(/\s+/g, ' '), new RegExp(`Failed to parse .*with ini plugin: .*:${line}:`), 'ansible-inventory refuses it at that line too');
      }
    });
    continue;
  }
  test(`INI ${f}: the same as ansible-inventory --list (stored${hasAnsible ? ' and live' : ''})`, async () => {
    const ours = inventoryList(loadInventory(path));
    assert.deepEqual(ours, JSON.parse(readFileSync(`${base}.expected.json`, 'utf8')));
    if (hasAnsible) {
      const r = await run('ansible-inventory', ['-i', path, '--list'], { nothrow: true });
      assert.ok(r.ok, r.stderr);
      assert.deepEqual(ours, JSON.parse(r.stdout));
    }
  });
}

test('Python literals as Ansible types INI values', () => {
  const cases: [string, unknown][] = [
    ['5', 5], ['-3', -3], ['+2', 2], ['5.5', 5.5], ['1e3', 1000], ['.5', 0.5], ['1_000', 1000], ['0x1F', 31], ['0o17', 15], ['0b101', 5],
    ['0755', '0755'], ['00', 0], ['True', true], ['true', 'true'], ['None', null], ['none', 'none'],
    ["'a b'", 'a b'], ['"x\\ty"', 'x\ty'], ["r'\\d'", '\\d'], ["b'xy'", 'xy'], ["'a' \"b\"", 'ab'], ["u'é'", 'é'],
    ['[1, "two", [3]]', [1, 'two', [3]]], ['(1, 2)', [1, 2]], ['(1,)', [1]], ['()', []], ['1, 2', [1, 2]], ['(5)', 5],
    ["{'k': 'v', 2: None, True: 1}", { k: 'v', 2: null, true: 1 }], ['{}', {}], ['{1, 2}', [1, 2]], ['set()', []],
    ['10.0.0.1', '10.0.0.1'], ['1.10', 1.1], ['1+2', '1+2'], ['1j', '1j'], ['abc', 'abc'], ['', ''], ['5 # five', 5],
    ['[1, 2', '[1, 2'], ["'unclosed", "'unclosed"], ['f"x"', 'f"x"'], ['-"x"', '-"x"'], ['{[1]: 2}', '{[1]: 2}'], ['1abc', '1abc'], ['e1', 'e1'], ['E5', 'E5'], ['--1', '--1'], ['-(1)', -1], ['-(-1)', '-(-1)'], ['-[1]', '-[1]'],
  ];
  for (const [text, want] of cases) assert.deepEqual(literalEval(text), want, text);
});

test("shlex as Python's, for host lines", () => {
  const cases: [string, string[]][] = [
    ['h a=1 b="x y"', ['h', 'a=1', 'b=x y']],
    ["h a='x \"y\"'", ['h', 'a=x "y"']],
    ['h a="x \\"y\\" \\z"', ['h', 'a=x "y" \\z']],
    ['h a=b\\ c', ['h', 'a=b c']],
    ['h a=1 # comment b=2', ['h', 'a=1']],
    ['h a=x#y b=2', ['h', 'a=x']],
    ['h a=""', ['h', 'a=']],
    ['  h  ', ['h']],
  ];
  for (const [line, want] of cases) assert.deepEqual(shlexSplit(line), want, line);
  assert.throws(() => shlexSplit('h a="x'), /No closing quotation/);
});
