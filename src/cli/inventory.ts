import { ConfigError, EXIT } from '../errors.js';
import { inventoryGraph, inventoryList, loadInventory } from '../inventory/inventory.js';
import { selectHosts } from '../inventory/patterns.js';
import { parse } from './args.js';
import type { Out } from './output.js';

export const INVENTORY_HELP = `fleetmasq inventory -i FILE (--list | --graph [GROUP] | --host NAME) [--limit PATTERN]
  Show the inventory as fleetmasq resolves it (the same JSON as ansible-inventory --list).
`;

export async function inventoryCommand(argv: string[], io: Out): Promise<number> {
  const { values, positionals } = parse(argv, {
    inventory: { type: 'string', short: 'i' },
    list: { type: 'boolean' },
    graph: { type: 'boolean' },
    host: { type: 'string' },
    limit: { type: 'string', short: 'l' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(INVENTORY_HELP);
    return EXIT.OK;
  }
  if (!values.inventory) throw new ConfigError('-i/--inventory FILE is required');
  const inv = loadInventory(values.inventory);
  for (const w of inv.warnings) io.err(`warning: ${w}`);
  if (values.graph) {
    const root = positionals[0] ?? 'all';
    if (!inv.groups.has(root)) throw new ConfigError(`no group '${root}'`);
    io.out(inventoryGraph(inv, root));
  } else if (values.host) {
    const list = inventoryList(inv) as { _meta: { hostvars: Record<string, unknown> } };
    if (!(values.host in list._meta.hostvars)) throw new ConfigError(`no host '${values.host}'`);
    io.out(JSON.stringify(list._meta.hostvars[values.host], null, 4));
  } else if (values.limit) {
    io.out(selectHosts(inv, 'all', values.limit).join('\n'));
  } else {
    io.out(JSON.stringify(inventoryList(inv), null, 4));
  }
  return EXIT.OK;
}
