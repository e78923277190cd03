import { ConfigError, EXIT } from '../errors.js';
import { inventoryGraph, inventoryList } from '../inventory/inventory.js';
import { loadSources } from '../inventory/sources.js';
import { ansibleJson } from '../inventory/listjson.js';
import { runSources } from './sources.js';
import { selectHosts } from '../inventory/patterns.js';
import { didYouMean } from '../util/didyoumean.js';
import type { FlagValues } from './commands.js';
import type { Out } from './output.js';

export async function inventoryCommand(values: FlagValues, positionals: string[], io: Out): Promise<number> {
  if (positionals.length && !values.graph) throw new ConfigError(`unexpected argument '${positionals[0]}' (a GROUP goes with --graph)`);
  const rs = runSources(values);
  const inv = loadSources(rs.sources, rs);
  for (const w of inv.warnings) io.err(`warning: ${w}`);
  if (values.graph) {
    const root = positionals[0] ?? 'all';
    if (!inv.groups.has(root)) throw new ConfigError(`no group '${root}'${didYouMean(root, inv.groups.keys())}`);
    io.out(inventoryGraph(inv, root));
  } else if (values.host) {
    const list = inventoryList(inv) as { _meta: { hostvars: Record<string, unknown> } };
    if (!(values.host in list._meta.hostvars)) throw new ConfigError(`no host '${values.host}'${didYouMean(values.host, inv.hosts.keys())}`);
    printJson(io, list._meta.hostvars[values.host]);
  } else if (values.limit !== undefined) {
    io.out(selectHosts(inv, 'all', values.limit).join('\n'));
  } else {
    printJson(io, inventoryList(inv));
  }
  return EXIT.OK;
}

/** As ansible-inventory prints it: the same bytes (its key order), its warning when it cannot sort. */
function printJson(io: Out, value: unknown): void {
  const j = ansibleJson(value);
  if (j.warning) io.err(`warning: ${j.warning}`);
  io.out(j.text);
}
