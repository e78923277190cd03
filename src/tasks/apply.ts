/** apply, masquerade, persist: plan from facts, change in one script, verify in the same round trip. */
import { HostError } from '../errors.js';
import { checkCompliance } from '../modules/compliance.js';
import { planApply, planPersist, planRule } from '../modules/plan.js';
import type { HostTask } from '../runner/runner.js';
import { emptyOutcome, reason } from '../runner/types.js';
import { type PlanFn, type TaskOptions, describe, execute, fromFreshFacts, planned, rawAfterChange, typed } from './session.js';

/** apply / masquerade / persist: plan from facts, change, verify. */
function changeTask(kind: 'apply' | 'masquerade' | 'persist', o: TaskOptions): HostTask {
  const planFn: PlanFn = kind === 'apply' ? planApply : kind === 'masquerade' ? (f, s) => planRule(f, s) : (f, s) => planPersist(f, s);
  return (ctx) =>
    fromFreshFacts(ctx, o, async (facts, { settings, conn }) => {
      const out = emptyOutcome();
      const plan = planFn(facts, settings);
      if (plan.error) throw new HostError('config', plan.error);
      planned(plan, out);
      for (const w of plan.warnings) ctx.warn(w);
      if (!plan.changes.length) {
        const c = checkCompliance(facts, settings);
        out.details = describe(facts, c);
        if (kind === 'apply') out.compliant = c.compliant;
        return out;
      }
      out.status = 'changed';
      if (o.checkMode) {
        const c = checkCompliance(facts, settings);
        out.details = { ...describe(facts, c), checkMode: true };
        // What the robot is now (a dry run changes nothing): evidence for the fleet view.
        out.compliant = c.compliant;
        return out;
      }
      const after = (await execute(ctx, conn, plan, o, facts))!;
      const c = checkCompliance(after, settings);
      out.details = describe(after, c);
      // Verified in the same round trip as the change: the robot's state for the fleet view.
      if (kind === 'apply') out.compliant = c.compliant;
      // Verify what this task is responsible for.
      const ruleOk = c.rulesOk;
      const persistOk = c.persistenceInstalled && c.method === plan.method;
      if ((kind !== 'persist' && !ruleOk) || (kind !== 'masquerade' && !persistOk)) {
        out.status = 'failed';
        out.raw = rawAfterChange(after);
        out.reasons.push(...c.reasons.map(typed));
        if (!out.reasons.length) out.reasons.push(reason('not-as-expected', 'the robot is not in the expected state after the change'));
      }
      return out;
    });
}

export const applyTask = (o: TaskOptions) => changeTask('apply', o);
export const masqueradeTask = (o: TaskOptions) => changeTask('masquerade', o);
export const persistTask = (o: TaskOptions) => changeTask('persist', o);
