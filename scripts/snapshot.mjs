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

/**
 * ssh2 1.17.0's crypto.js with its native addon loaded on the first createCipher/createDecipher call
 * instead of when the module is evaluated: by its absolute path, ssh2's folder (as found at build time)
 * under the package root found at run time, and only if the ssh2 there is the version bundled. Anything else (no addon, another ssh2) leaves ssh2's own ciphers
 * made of node's crypto calls, as when the addon is missing. If ssh2's text is not the one this expects,
 * the build says so and the snapshot keeps ssh2 as it is (test/unit/startup.test.ts fails on that).
 */
function sshCryptoDeferred(text) {
  const load = [
    'try {',
    "  binding = require('./crypto/build/Release/sshcrypto.node');",
    '  ({ AESGCMCipher, ChaChaPolyCipher, GenericCipher,',
    '     AESGCMDecipher, ChaChaPolyDecipher, GenericDecipher } = binding);',
    '} catch {}',
  ].join('\n');
  const starts = ['function createCipher(config) {', 'function createDecipher(config) {'];
  if (!text.includes(load) || !starts.every((f) => text.split(f).length === 2)) {
    console.error("snapshot: ssh2's crypto.js is not the text expected: its native ciphers stay out of the snapshot");
    return text;
  }
  // ssh2's folder as the bundle found it, relative to the package root: the addon is loaded by that
  // absolute path at run time (no module search: NODE_PATH, ~/.node_modules... are never looked at).
  const ssh2Pkg = require.resolve('ssh2/package.json');
  const version = JSON.parse(readFileSync(ssh2Pkg, 'utf8')).version;
  const ssh2Dir = relative(root, dirname(ssh2Pkg)).split('\\').join('/');
  const deferred = [
    '// fleetmasq (scripts/snapshot.mjs): the addon is loaded on first use, at run time.',
    'let fleetmasqBindingTried = false;',
    'function fleetmasqLoadBinding() {',
    '  if (fleetmasqBindingTried) return;',
    '  const root = globalThis.__fleetmasqRoot;',
    '  if (root === undefined) return;',
    '  fleetmasqBindingTried = true;',
    '  try {',
    `    const dir = require("node:path").join(root, ${JSON.stringify(ssh2Dir)});`,
    '    const req = require("node:module").createRequire(require("node:path").join(dir, "package.json"));',
    `    if (JSON.parse(require("node:fs").readFileSync(require("node:path").join(dir, "package.json"), "utf8")).version !== ${JSON.stringify(version)}) return;`,
    '    binding = req(require("node:path").join(dir, "lib", "protocol", "crypto", "build", "Release", "sshcrypto.node"));',
    '    ({ AESGCMCipher, ChaChaPolyCipher, GenericCipher,',
    '       AESGCMDecipher, ChaChaPolyDecipher, GenericDecipher } = binding);',
    '  } catch {}',
    '}',
  ].join('\n');
  let out = text.replace(load, deferred);
  for (const f of starts) out = out.replace(f, `${f}\n  fleetmasqLoadBinding();`);
  return out;
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
          // ssh2's native ciphers (its sshcrypto.node, when its install built it) are loaded by its
          // crypto.js when that is evaluated, which is while the snapshot is built, where no addon loads:
          // the snapshot would always use the slower ciphers made of node's crypto calls. The load is
          // moved to the first cipher ssh2 creates at run time (sshCryptoDeferred).
          b.onLoad({ filter: /[/\\]ssh2[/\\]lib[/\\]protocol[/\\]crypto\.js$/ }, (a) => ({
            contents: sshCryptoDeferred(readFileSync(a.path, 'utf8')),
            loader: 'js',
            resolveDir: dirname(a.path),
          }));
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
