/** The terminal view (listr2): a line per robot with its current step; a compact summary for large fleets. */
import { Listr, type ListrTaskWrapper } from 'listr2';
import type { Progress } from './progress.js';

type Waiter = { resolve: () => void; reject: (e: Error) => void; task?: ListrTaskWrapper<unknown, never, never> };

export function ttyProgress(hosts: string[], title: string, compactOver = 30): Progress {
  const waiters = new Map<string, Waiter>();
  const counts = { done: 0, failed: 0, running: 0 };
  let summaryTask: ListrTaskWrapper<unknown, never, never> | undefined;
  let finishSummary: () => void = () => {};
  const compact = hosts.length > compactOver;
  const list = compact
    ? new Listr(
        [
          {
            title,
            task: (_ctx, task) =>
              new Promise<void>((resolve) => {
                summaryTask = task as never;
                finishSummary = resolve;
              }),
          },
        ],
        { renderer: 'default', exitOnError: false, rendererOptions: { collapseErrors: false } },
      )
    : new Listr(
        hosts.map((h) => ({
          title: `${h}: waiting`,
          task: (_ctx: unknown, task: ListrTaskWrapper<unknown, never, never>) =>
            new Promise<void>((resolve, reject) => waiters.set(h, { resolve, reject, task })),
        })),
        { concurrent: true, exitOnError: false, renderer: 'default', rendererOptions: { collapseErrors: false } },
      );
  const running = list.run().catch(() => {});
  const update = () => {
    if (summaryTask) summaryTask.title = `${title}: ${counts.done}/${hosts.length} done, ${counts.running} in flight, ${counts.failed} failed`;
  };
  return {
    onEvent: (e) => {
      if (e.type === 'start') counts.running++;
      if (compact) {
        if (e.type === 'done') {
          counts.done++;
          counts.running = Math.max(0, counts.running - 1);
          if (e.result.status === 'failed' || e.result.status === 'unreachable') counts.failed++;
          if (summaryTask && (e.result.status === 'failed' || e.result.status === 'unreachable'))
            summaryTask.output = `${e.result.host}: ${e.result.error?.message ?? e.result.reasons.join('; ')}`;
        }
        update();
        return;
      }
      const w = 'host' in e && e.host ? waiters.get(e.host) : e.type === 'done' ? waiters.get(e.result.host) : undefined;
      if (!w?.task) return;
      if (e.type === 'start') w.task.title = `${e.host}: connecting`;
      if (e.type === 'step') w.task.title = `${e.host}: ${e.step}`;
      if (e.type === 'done') {
        const r = e.result;
        if (r.status === 'failed' || r.status === 'unreachable') {
          w.task.title = `${r.host}: ${r.status}`;
          w.reject(new Error(`${r.host}: ${r.error ? `${r.error.kind}: ${r.error.message}` : r.reasons.join('; ')}`));
        } else {
          w.task.title = `${r.host}: ${r.status}${r.changes.length ? ` (${r.changes.length} change${r.changes.length > 1 ? 's' : ''})` : ''}`;
          if (r.status === 'skipped') w.task.skip(`${r.host}: skipped`);
          w.resolve();
        }
      }
    },
    stop: async () => {
      finishSummary();
      for (const [h, w] of waiters) {
        if (w.task && w.task.title?.endsWith('waiting')) w.task.skip(`${h}: not run`);
        w.resolve();
      }
      await running;
    },
  };
}
