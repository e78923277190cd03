/**
 * The precompiled validators are source (src/validation/validators.generated.ts), so `tsc` alone builds a
 * CLI that runs: this checks they are what the schemas generate today, and that no build step is needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateValidatorsSource, validatorsSourcePath } from '../../src/validation/generate.js';
import { inventory, playbook, vars } from '../../src/validation/validators.js';

test('the committed validators are up to date with the schemas (else: npm run generate)', () => {
  const committed = readFileSync(validatorsSourcePath(), 'utf8');
  assert.ok(committed === generateValidatorsSource(), 'src/validation/validators.generated.ts is out of date with src/validation/schemas.ts: run `npm run generate` and commit it');
});

test('a build is tsc alone: no script but `generate` writes the validators, and they work as compiled', () => {
  const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts as Record<string, string>;
  for (const name of ['build', 'prepare']) assert.doesNotMatch(scripts[name]!, /generate\.js/, `${name} needs no generation step`);
  assert.match(scripts.generate!, /generate\.js --write/);
  assert.equal(inventory({ all: { hosts: { r1: { ansible_host: '10.0.0.1' } } } }), true);
  assert.equal(inventory({ all: { hostz: {} } }), false);
  assert.equal(inventory.errors?.[0]?.keyword, 'additionalProperties');
  assert.equal(vars({ ansible_port: 'x' }), false);
  assert.equal(typeof playbook, 'function');
});
