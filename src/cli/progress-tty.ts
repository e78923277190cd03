/** The terminal view (listr2): a line per robot with its current step; a compact summary for large fleets. */
import { Listr, type ListrTaskWrapper } from 'listr2';
import { reason, type HostResult } from '../runner/types.js';
import { whyLines } from '../report/fields.js';
import { statusWord } from '../report/recap.js';
import { visible } from './output.js';
import { verboseLines, type Progress } from './progress.js';

type Task = ListrTaskWrapper<unknown, never, never>;

/** A robot's line: what it is doing now, and how it ended. Kept apart from listr2's task objects, which
 * exist only once listr2 has started the task (events can come earlier). */
interface Line {
  title: string;
  result?: HostResult;
  task?: Task;
  settle?: () => void;
}

function endTitle(r: HostResult, checkMode: boolean): string {
  const n = r.changes.length;
  return `${r.host}: ${statusWord(r, checkMode)}${n && r.status !== 'failed' ? ` (${n} change${n > 1 ? 's' : ''})` : ''}`;
}

export interface TtyOptions {
  compactOver?: number;
  /** -v…-vvv: verbose lines show under each robot's line as they come, and all of them after the view ends. */
  verbosity?: number;
  checkMode?: boolean;
  /** Where the verbose lines go once the view has ended (stderr). */
  err?: (text: string) => void;
}

export function ttyProgress(hosts: string[], title: string, opts: TtyOptions | number = {}): Progress {
  const o: TtyOptions = typeof opts === 'number' ? { compactOver: opts } : opts;
  const compactOver = o.compactOver ?? 30;
  const verbosity = o.verbosity ?? 0;
  const checkMode = Boolean(o.checkMode);
  // Verbose lines are never written past listr2 while it draws (that would tear its view): each robot's
  // latest one is its line's output, and the whole log is printed in order once the view has ended.
  const log: string[] = [];
  const lines = new Map<string, Line>(hosts.map((h) => [h, { title: `${h}: waiting` }]));
  const counts = { done: 0, failed: 0, running: 0, skipped: 0, noncompliant: 0 };
  let summaryTask: Task | undefined;
  let finishSummary: () => void = () => {};
  const compact = hosts.length > compactOver;
  // listr2's own SIGINT handler exits the process at once (status 127): fleetmasq handles Ctrl-C itself.
  const common = { exitOnError: false, renderer: 'default', registerSignalListeners: false, rendererOptions: { collapseErrors: false } } as const;
  /** Shows a line's state on its task, and settles the task once the robot is done. */
  const show = (line: Line) => {
    if (!line.task) return;
    line.task.title = visible(line.title);
    const r = line.result;
    if (!r || !line.settle) return;
    const settle = line.settle;
    line.settle = undefined;
    if (r.status === 'skipped') line.task.skip(visible(line.title));
    settle();
  };
  /** How the run's own line ends: failed robots fail it, skipped ones (or an interrupt) make it a skip, else done. */
  let endHeader: (how: 'ok' | 'skip' | 'fail') => void = () => {};
  // The first line is the run's own: its title, and notices about the whole run (listr2 holds back
  // anything else written to the terminal until it stops, so a notice has to be shown here).
  let stopped = false;
  // A stop can come before listr2 has started this line (a run over in an instant): it then ends at once.
  const header = {
    title,
    task: (_ctx: unknown, task: unknown) =>
      new Promise<void>((resolve, reject) => {
        summaryTask = task as Task;
        endHeader = (how) => {
          if (how === 'fail') return reject(new Error(visible(summaryTask!.title ?? title)));
          if (how === 'skip') summaryTask!.skip(visible(summaryTask!.title ?? title));
          resolve();
        };
        finishSummary = () => endHeader(finalState());
        update();
        if (stopped) finishSummary();
      }),
  };
  const list = compact
    ? new Listr([header], common)
    : new Listr(
        [header, ...hosts.map((h) => ({
          title: `${h}: waiting`,
          task: (_ctx: unknown, task: Task) =>
            new Promise<void>((resolve, reject) => {
              const line = lines.get(h)!;
              line.task = task;
              line.settle = () => {
                const r = line.result!;
                if (r.status === 'failed' || r.status === 'unreachable') reject(new Error(visible(`${r.host}: ${whyLines(r).join('; ')}`)));
                else resolve();
              };
              show(line);
            }),
        }))],
        { ...common, concurrent: true },
      );
  const running = list.run().catch(() => {});
  let note = '';
  let hint = '';
  let interrupted = false;
  const finalState = (): 'ok' | 'skip' | 'fail' => (counts.failed || counts.noncompliant ? 'fail' : counts.skipped || interrupted ? 'skip' : 'ok');
  const update = () => {
    const skipped = `${counts.noncompliant ? `, ${counts.noncompliant} noncompliant` : ''}${counts.skipped ? `, ${counts.skipped} skipped` : ''}`;
    const flight = stopped ? '' : `, ${counts.running} in flight`;
    const why = note ? ` — ${note}` : '';
    if (!summaryTask) return;
    summaryTask.title = visible(`${title}: ${counts.done}/${hosts.length} done${flight}, ${counts.failed} failed${skipped}${why}`);
    // The hint (what the operator can do now) on a line of its own, whole, and only while the run goes on.
    if (hint) summaryTask.output = stopped ? '' : visible(hint);
  };
  const verbose = (host: string | undefined, text: string[]) => {
    if (!text.length) return;
    log.push(...text.map((l) => `[${host ?? '-'}] ${l}`));
    const last = text[text.length - 1]!;
    const line = host ? lines.get(host) : undefined;
    const target = compact ? summaryTask : (line?.task ?? summaryTask);
    // Only while the line is still running: a settled line keeps its ending.
    if (target && (!line || !line.result || compact)) target.output = visible(`${host ? `${host}: ` : ''}${last.slice(0, 200)}`);
  };
  return {
    onEvent: (e) => {
      if (verbosity) {
        const host = e.type === 'done' ? e.result.host : 'host' in e ? e.host : undefined;
        verbose(host, verboseLines(e, verbosity));
      }
      if (e.type === 'debug') return;
      if (e.type === 'waiting') {
        note = `${e.waiting} waiting (unreachable): next attempt in ${Math.round(e.nextInMs / 1000)} s, deadline in ${Math.round(e.deadlineInMs / 1000)} s`;
        counts.done -= e.waiting;
        counts.failed = Math.max(0, counts.failed - e.waiting);
        return update();
      }
      if (e.type === 'start') counts.running++;
      if (e.type === 'done') {
        counts.done++;
        counts.running = Math.max(0, counts.running - 1);
        const bad = e.result.status === 'failed' || e.result.status === 'unreachable';
        // A robot found not compliant is counted as what it is, not as failed.
        if (bad && e.result.compliant === false && e.result.status === 'failed') counts.noncompliant++;
        else if (bad) counts.failed++;
        if (e.result.status === 'skipped') counts.skipped++;
        if (compact && summaryTask && bad) summaryTask.output = visible(`${e.result.host}: ${whyLines(e.result).join('; ')}`);
      }
      update();
      if (compact) return;
      const host = e.type === 'done' ? e.result.host : 'host' in e ? e.host : undefined;
      const line = host ? lines.get(host) : undefined;
      if (!line) return;
      if (e.type === 'start') line.title = `${host}: connecting`;
      if (e.type === 'step') line.title = `${host}: ${e.step}`;
      if (e.type === 'done') {
        line.result = e.result;
        line.title = endTitle(e.result, checkMode);
      }
      show(line);
    },
    notice: (text, h) => {
      note = text.trim();
      hint = h ?? '';
      interrupted = true;
      update();
    },
    stop: async () => {
      stopped = true;
      update();
      finishSummary();
      for (const [h, line] of lines) {
        if (!line.result) line.result = { host: h, status: 'skipped', changes: [], reasons: [reason('not-run', 'not run')], warnings: [], diffs: [], details: {}, error: null };
        if (line.title.endsWith(': waiting')) line.title = `${h}: not run`;
        show(line);
      }
      await running;
      if (log.length) (o.err ?? ((t: string) => process.stderr.write(`${visible(t)}\n`)))(log.join('\n'));
    },
  };
}
