/** remove: take out everything fleetmasq put on the robot, and prove it gone in the same round trip. */
import { HostError } from '../errors.js';
import { checkCompliance } from '../modules/compliance.js';
import { planRemove } from '../modules/plan.js';
import type { HostTask } from '../runner/runner.js';
import { emptyOutcome, reason } from '../runner/types.js';
import { type TaskOptions, describe, execute, fromFreshFacts, planned, rawAfterChange } from './session.js';

export function removeTask(o: TaskOptions): HostTask {
  return (ctx) =>
    fromFreshFacts(ctx, o, async (facts, { settings, conn }) => {
      const out = emptyOutcome();
      const plan = planRemove(facts, settings);
      // Nothing half-done: a robot whose files fleetmasq will not edit is left entirely as it is.
      if (plan.error) throw new HostError('config', `${plan.error}; nothing removed`);
      planned(plan, out);
      out.details = describe(facts);
      if (!plan.changes.length) {
        out.removed = true;
        return out;
      }
      out.status = 'changed';
      if (o.checkMode) {
        out.details.checkMode = true;
        out.compliant = checkCompliance(facts, settings).compliant;
        return out;
      }
      const after = (await execute(ctx, conn, plan, o, facts))!;
      const left = planRemove(after, settings);
      out.details = describe(after);
      if (left.changes.length) {
        out.status = 'failed';
        out.raw = rawAfterChange(after);
        out.compliant = checkCompliance(after, settings).compliant;
        out.reasons.push(reason('still-present', `still present after remove: ${left.changes.join('; ')}`, { left: left.changes }));
      } else out.removed = true;
      return out;
    });
}
