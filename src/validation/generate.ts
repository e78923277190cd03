/**
 * The inventory and playbook validators, compiled by ajv ahead of time (ajv's standalone code) when
 * the project is built: a run imports plain functions instead of loading ajv and compiling the
 * schemas (~60 ms of every command's start, which a check over a cellular link waits for).
 *
 * `npm run build` runs `node dist/src/validation/generate.js --write`, which writes
 * dist/src/validation/validators.generated.js (typed by validators.generated.d.ts).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { GROUP_SCHEMA, PLAYBOOK_SCHEMA, VARS_SCHEMA } from './schemas.js';

/** The module text for the current schemas (pure: same schemas, same text). */
export function generateValidatorsSource(): string {
  const ajv = new Ajv({ allErrors: false, strict: false, code: { source: true, esm: true } });
  ajv.addSchema({ $id: 'vars', ...VARS_SCHEMA });
  ajv.addSchema(GROUP_SCHEMA);
  ajv.addSchema({ $id: 'inventory', type: 'object', additionalProperties: { $ref: 'group' } });
  ajv.addSchema({ $id: 'playbook', ...PLAYBOOK_SCHEMA });
  type Gen = (ajv: Ajv, refs: Record<string, string>) => string;
  const mod = standaloneCode as unknown as Gen & { default?: Gen };
  const code = (mod.default ?? mod)(ajv, { inventory: 'inventory', vars: 'vars', playbook: 'playbook' });
  // ajv's runtime helpers (e.g. for minLength) are CommonJS requires: give the ES module a require.
  const head = /\brequire\(/.test(code) ? `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n` : '';
  return `// Generated at build time by src/validation/generate.ts from src/validation/schemas.ts. Do not edit.\n${head}${code}`;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href && process.argv.includes('--write')) {
  const out = join(dirname(fileURLToPath(import.meta.url)), 'validators.generated.js');
  writeFileSync(out, generateValidatorsSource());
}
