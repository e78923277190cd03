/** `fleetmasq diagnose`: which robots the hotspot bug hits, and (--ab) proof that the fix removes it. */
import { writeFileSync } from 'node:fs';
import { ConfigError, EXIT } from '../errors.js';
import { runFleet } from '../runner/runner.js';
import { diagnoseTask } from '../tasks/diagnose.js';
import { diagnoseHtml, diagnoseSummary, diagnoseText } from '../report/diagnose.js';
import { runDocument } from '../report/summary.js';
import { intFlag } from './args.js';
import type { FlagValues } from './commands.js';
import { announceRun, fleetSetup, lockFor, makeProgress, robots, runInfo } from './fleet.js';
import { withFleetRun } from './fleetrun.js';
import type { Out } from './output.js';

export async function diagnoseCommand(values: FlagValues, io: Out, argv: string[] = []): Promise<number> {
  const setup = fleetSetup(values);
  if (values.stun !== undefined && !/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}:[0-9]{1,5}$/.test(values.stun)) throw new ConfigError(`--stun must be HOST:PORT (got '${values.stun}')`);
  const attempts = intFlag(values.attempts, 'attempts', 1, 100) ?? 5;
  const groups = intFlag(values['ab-groups'], 'ab-groups', 2, 20);
  const per = intFlag(values['ab-per'], 'ab-per', 1, 50);
  if ((groups || per) && !values.ab) throw new ConfigError('--ab-groups and --ab-per go with --ab');
  // Also ansible.cfg's warnings (host keys not checked), which this command did not print before.
  const header = announceRun(setup, argv, io);
  const lock = lockFor(header, 'diagnose', values);
  // Tests only (undocumented): the A/B restore timer's delay in seconds, to make it fire mid-experiment.
  const early = process.env.FLEETMASQ_AB_RESTORE_AFTER;
  const abRestoreAfterS = early && /^[1-9][0-9]{0,5}$/.test(early) ? Number(early) : undefined;
  const task = diagnoseTask({ ...setup.taskOptions, lock, stun: values.stun, attempts, ...(values.ab ? { ab: { groups: groups ?? 4, per: per ?? 5 }, abRestoreAfterS, audit: { by: header.who, command: 'diagnose --ab' } } : {}) });
  const startedAt = new Date();
  return withFleetRun(
    setup,
    { command: 'diagnose', header, dryRun: false },
    values,
    io,
    async (scope) => {
      scope.progress = await makeProgress(io, setup.hosts, `diagnose on ${robots(setup.hosts.length)}`, values);
      const { pool, signal, abandon, rec } = scope;
      return runFleet(task, { command: 'diagnose', hosts: setup.hosts, inventory: setup.inventory, pool, forks: setup.forks, serial: [], signal, abandon, onEvent: scope.progress.onEvent, record: rec });
    },
    async (run, stored, interrupted) => {
      const results = setup.hosts.map((h) => run.results.get(h)!).filter(Boolean);
      const info = runInfo('diagnose', values, startedAt, { inventory: setup.sources.label, record: stored.where });
      const s = diagnoseSummary(results);
      if (values.json) io.out(JSON.stringify({ ...runDocument(results, info), diagnose: s }, null, 2));
      else io.out(diagnoseText(results));
      if (values.html) writeFileSync(values.html, diagnoseHtml(results, { inventory: setup.sources.label, startedAt }));
      if (interrupted) return EXIT.INTERRUPTED;
      if (s.affected || s.changesDespite || s.failed || results.some((r) => r.status === 'failed')) return EXIT.HOSTS_FAILED;
      if (s.unreachable) return EXIT.HOSTS_UNREACHABLE;
      return EXIT.OK;
    },
  );
}
