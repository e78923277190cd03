/** The --json document's schema (schemas/run-result.schema.json), compiled once with ajv for tests. */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

export const RUN_SCHEMA = JSON.parse(readFileSync('schemas/run-result.schema.json', 'utf8'));

const ajv = new Ajv({ allErrors: true, strict: true });
// ISO 8601 as Date.toISOString() writes it.
ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
const validate = ajv.compile(RUN_SCHEMA);

/** Throws with every violation when `doc` does not match the schema. */
export function assertRunDocument(doc: unknown, what: string): void {
  if (!validate(doc)) throw new Error(`${what}: not a valid run document: ${ajv.errorsText(validate.errors, { separator: '\n' })}\n${JSON.stringify(doc).slice(0, 2000)}`);
}
