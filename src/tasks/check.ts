/** check and verify: compliance, read-only. */
import type { HostTask } from '../runner/runner.js';
import { type TaskOptions, begin, judge } from './session.js';

/** check: compliance, read-only. `requireFired` (verify after a reboot) also demands the boot hook ran at this boot. */
export function checkTask(o: TaskOptions & { requireFired?: boolean }): HostTask {
  return async (ctx) => {
    const { out, settings, facts } = await begin(ctx, o);
    return judge(facts, settings, out, o.requireFired ?? false);
  };
}
