/** `fleetmasq snippet entrypoint`: prints the entry-point fragment (src/remote/files/snippet.ts). */
import { ConfigError, EXIT } from '../errors.js';
import { entrypointSnippet } from '../remote/files/snippet.js';
import { specError } from '../modules/rule.js';
import type { FlagValues } from './commands.js';
import type { Out } from './output.js';

export function snippetCommand(kind: string, values: FlagValues, io: Out): number {
  if (kind !== 'entrypoint') throw new ConfigError(`unknown snippet '${kind}' (there is: entrypoint)`);
  const spec = values.interface ?? 'auto';
  const bad = spec === 'auto' ? undefined : specError(spec);
  if (bad) throw new ConfigError(`--interface: ${bad}`);
  io.out(entrypointSnippet(spec).trimEnd());
  return EXIT.OK;
}
