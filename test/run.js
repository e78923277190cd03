#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner.
// Explicit file lists behave the same on Node 20, 22 and 24.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const only = process.argv.slice(2); // optional filters: substrings of file paths
const files = [];
const walk = (d) => {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.test.js') && (!only.length || only.some((o) => p.includes(o)))) files.push(p);
  }
};
walk('dist/test');
files.sort();
if (!files.length) {
  console.error('no test files found under dist/test');
  process.exit(1);
}
const concurrency = process.env.FLEETMASQ_TEST_CONCURRENCY ?? '3';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
