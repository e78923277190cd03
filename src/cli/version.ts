import { readFileSync } from 'node:fs';

/** fleetmasq's version, from its package.json (read only when asked). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
