/**
 * A controller in a separate process for the store's concurrency tests: RUNS runs of HOSTS robots each,
 * written through the real store (FLEETMASQ_STORE), as a fleet command writes them.
 * argv: <name> <runs> <hosts>
 */
import { Store } from '../../src/store/store.js';

const [name = 'w', runs = '50', hosts = '5'] = process.argv.slice(2);
const store = await Store.open(process.env, { importJsonl: false });
for (let i = 0; i < Number(runs); i++) {
  const at = new Date().toISOString();
  const rec = await store.startRun({ command: 'check', dryRun: false, header: { who: `${name}@test`, argv: ['check'], inventory: 'x', version: '0', startedAt: at } }, { ...process.env, FLEETMASQ_CONTROLLER: name });
  for (let h = 0; h < Number(hosts); h++) {
    const t = new Date().toISOString();
    rec.add({ host: `r${h}`, status: 'ok', compliant: true, changes: [], reasons: [], warnings: [], diffs: [], details: { checkedAt: t, bootId: `${name}-${i}` }, error: null, finishedAt: t });
  }
  await rec.finish();
}
await store.close();
