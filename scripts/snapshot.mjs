#!/usr/bin/env node
// Builds the start-up snapshot that bin/fleetmasq.js starts node from (run by `npm run build`, after tsc):
//   1. esbuild bundles dist/src/cli/snapshot.js and everything it imports into one CommonJS script
//      (node's snapshot builder runs a single script and can require only node's built-in modules);
//   2. `node --build-snapshot` runs it and writes the heap to dist/snapshot/fleetmasq.blob.
// A snapshot only loads in the node binary that built it: dist/snapshot/node names that binary, and the
// launcher uses the snapshot only with it. If the snapshot cannot be built, this says why and removes
// any old one: the CLI then starts unbundled (slower, same behaviour); a unit test reports it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'snapshot');
const bundle = join(out, 'fleetmasq.cjs');
const blob = join(out, 'fleetmasq.blob');
const nodeFile = join(out, 'node');
const require = createRequire(import.meta.url);

function fail(why) {
  rmSync(out, { recursive: true, force: true });
  console.error(`snapshot: not built (${why}); fleetmasq will start without it`);
  process.exit(0);
}

let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  fail('esbuild is not installed: npm ci installs it');
}

const polyShim = join(root, 'scripts', 'snapshot-poly1305.cjs');
const emptyModule = join(root, 'scripts', 'snapshot-empty.cjs');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

try {
  await esbuild.build({
    entryPoints: [join(root, 'dist', 'src', 'cli', 'snapshot.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: bundle,
    logLevel: 'error',
    // Smaller source text in the heap (V8 keeps it for lazy compilation): a smaller, faster snapshot.
    minifyWhitespace: true,
    minifySyntax: true,
    // ssh2's optional native crypto binding cannot be in a snapshot: ssh2 then uses node's crypto.
    external: ['*.node'],
    banner: {
      js: [
        '"use strict";',
        // import.meta.url of a bundled module: its file under the package root found at run time.
        'function __fleetmasqUrl(rel) {',
        '  const root = globalThis.__fleetmasqRoot;',
        '  if (root === undefined) throw new Error("fleetmasq snapshot: " + rel + " uses its own location while the snapshot is built; compute it when called");',
        '  return require("node:url").pathToFileURL(require("node:path").join(root, rel)).href;',
        '}',
        // import('package') in fleetmasq's code (a dependency loaded on first use, as better-sqlite3
        // with its native addon, pg, prom-client): loaded at run time from node_modules, as unbundled.
        'function __fleetmasqImport(name) {',
        '  return Promise.resolve().then(() => {',
        '    const m = require("node:module").createRequire(require("node:path").join(globalThis.__fleetmasqRoot, "package.json"))(name);',
        '    return Object.assign({}, m, { default: m });',
        '  });',
        '}',
      ].join('\n'),
    },
    plugins: [
      {
        name: 'fleetmasq-snapshot',
        setup(b) {
          // ssh2's HTTP agents (unused by fleetmasq) load node:http, which node 20's snapshot builder cannot.
          b.onResolve({ filter: /[/\\]http-agents\.js$/ }, (a) => (a.importer.includes('ssh2') ? { path: emptyModule } : undefined));
          // ssh2 instantiates its WebAssembly poly1305 when loaded; the shim defers it to run time.
          b.onResolve({ filter: /crypto[/\\]poly1305\.js$/ }, (a) =>
            a.importer === polyShim ? undefined : { path: polyShim },
          );
          b.onLoad({ filter: /[/\\]dist[/\\]src[/\\].*\.js$/ }, (a) => {
            const rel = relative(root, a.path).split('\\').join('/');
            const text = readFileSync(a.path, 'utf8')
              // createRequire(import.meta.url) then require('x'): a plain require('x') that esbuild bundles.
              .replace(/^const require = createRequire\(import\.meta\.url\);$/m, '')
              .replace(/\bimport\.meta\.url\b/g, `__fleetmasqUrl(${JSON.stringify(rel)})`)
              .replace(/\bimport\((['"])([^'"]+)\1\)/g, (all, _q, name) =>
                name.startsWith('.') || isBuiltin(name) ? all : `__fleetmasqImport(${JSON.stringify(name)})`,
              );
            return { contents: text, loader: 'js', resolveDir: dirname(a.path) };
          });
        },
      },
    ],
  });
} catch (e) {
  fail(`bundling failed: ${e instanceof Error ? e.message : String(e)}`);
}

const r = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', bundle], {
  cwd: out,
  encoding: 'utf8',
  env: { ...process.env, NODE_NO_WARNINGS: '1' },
});
if (r.status !== 0) fail(`node --build-snapshot failed:\n${(r.stderr || r.stdout || '').trim()}`);
writeFileSync(nodeFile, `${realpathSync(process.execPath)}\n`);
