/** The terminal view (listr2): a line per robot with its current step; a compact summary for large fleets. */
import { Listr, type ListrTaskWrapper } from 'listr2';
import { reason, type HostResult, type RunEvent } from '../runner/types.js';
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

type Counts = { done: number; failed: number; running: number; skipped: number; noncompliant: number };
type Ending = 'ok' | 'skip' | 'fail';

/** listr2's settings for every list; its own SIGINT handler exits the process at once (status 127): fleetmasq handles Ctrl-C itself. */
const LISTR_COMMON = { exitOnError: false, renderer: 'default', registerSignalListeners: false, rendererOptions: { collapseErrors: false } } as const;

/** Shows a line's state on its task, and settles the task once the robot is done. */
function show(line: Line): void {
  if (!line.task) return;
  line.task.title = visible(line.title);
  const r = line.result;
  if (!r || !line.settle) return;
  const settle = line.settle;
  line.settle = undefined;
  if (r.status === 'skipped') line.task.skip(visible(line.title));
  settle();
}

/** A robot's listr2 task: its line, failed when the robot failed or was unreachable. */
function robotTask(line: Line): (_ctx: unknown, task: Task) => Promise<void> {
  return (_ctx, task) =>
    new Promise<void>((resolve, reject) => {
      line.task = task;
      line.settle = () => {
        const r = line.result!;
        if (r.status === 'failed' || r.status === 'unreachable') reject(new Error(visible(`${r.host}: ${whyLines(r).join('; ')}`)));
        else resolve();
      };
      show(line);
    });
}

/** A robot's end in the run's counts: a robot found not compliant is counted as what it is, not as failed. */
function countDone(counts: Counts, r: HostResult): boolean {
  counts.done++;
  counts.running = Math.max(0, counts.running - 1);
  const bad = r.status === 'failed' || r.status === 'unreachable';
  if (bad && r.compliant === false && r.status === 'failed') counts.noncompliant++;
  else if (bad) counts.failed++;
  if (r.status === 'skipped') counts.skipped++;
  return bad;
}

/** What an event says on its robot's own line (the expanded view). */
function lineOnEvent(line: Line, e: RunEvent, checkMode: boolean): void {
  if (e.type === 'start') line.title = `${e.host}: connecting`;
  if (e.type === 'step') line.title = `${e.host}: ${e.step}`;
  if (e.type === 'done') {
    line.result = e.result;
    line.title = endTitle(e.result, checkMode);
  }
  show(line);
}

const hostOf = (e: RunEvent): string | undefined => (e.type === 'done' ? e.result.host : 'host' in e ? e.host : undefined);

/**
 * The view: the run's own line first (its title, counts, and notices about the whole run: listr2 holds
 * back anything else written to the terminal until it stops), then a line per robot unless compact.
 */
class TtyView {
  // Verbose lines are never written past listr2 while it draws (that would tear its view): each robot's
  // latest one is its line's output, and the whole log is printed in order once the view has ended.
  readonly log: string[] = [];
  readonly lines: Map<string, Line>;
  readonly counts: Counts = { done: 0, failed: 0, running: 0, skipped: 0, noncompliant: 0 };
  readonly compact: boolean;
  summaryTask?: Task;
  finishSummary: () => void = () => {};
  stopped = false;
  note = '';
  hint = '';
  interrupted = false;
  readonly running: Promise<void>;

  constructor(
    private readonly hosts: string[],
    private readonly title: string,
    compactOver: number,
  ) {
    this.lines = new Map(hosts.map((h) => [h, { title: `${h}: waiting` }]));
    this.compact = hosts.length > compactOver;
    const header = { title, task: (_ctx: unknown, task: unknown) => this.headerTask(task as Task) };
    const list = this.compact
      ? new Listr([header], LISTR_COMMON)
      : new Listr([header, ...hosts.map((h) => ({ title: `${h}: waiting`, task: robotTask(this.lines.get(h)!) }))], { ...LISTR_COMMON, concurrent: true });
    this.running = list.run().then(
      () => {},
      () => {},
    );
  }

  /** The run's own line; a stop can come before listr2 has started it (a run over in an instant): it then ends at once. */
  private headerTask(task: Task): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.summaryTask = task;
      const endHeader = (how: Ending) => {
        if (how === 'fail') return reject(new Error(visible(task.title ?? this.title)));
        if (how === 'skip') task.skip(visible(task.title ?? this.title));
        resolve();
      };
      this.finishSummary = () => endHeader(this.finalState());
      this.update();
      if (this.stopped) this.finishSummary();
    });
  }

  /** How the run's own line ends: failed robots fail it, skipped ones (or an interrupt) make it a skip, else done. */
  private finalState(): Ending {
    const c = this.counts;
    return c.failed || c.noncompliant ? 'fail' : c.skipped || this.interrupted ? 'skip' : 'ok';
  }

  update(): void {
    const c = this.counts;
    const skipped = `${c.noncompliant ? `, ${c.noncompliant} noncompliant` : ''}${c.skipped ? `, ${c.skipped} skipped` : ''}`;
    const flight = this.stopped ? '' : `, ${c.running} in flight`;
    const why = this.note ? ` — ${this.note}` : '';
    if (!this.summaryTask) return;
    this.summaryTask.title = visible(`${this.title}: ${c.done}/${this.hosts.length} done${flight}, ${c.failed} failed${skipped}${why}`);
    // The hint (what the operator can do now) on a line of its own, whole, and only while the run goes on.
    if (this.hint) this.summaryTask.output = this.stopped ? '' : visible(this.hint);
  }

  verbose(host: string | undefined, text: string[]): void {
    if (!text.length) return;
    this.log.push(...text.map((l) => `[${host ?? '-'}] ${l}`));
    const last = text[text.length - 1]!;
    const line = host ? this.lines.get(host) : undefined;
    const target = this.compact ? this.summaryTask : (line?.task ?? this.summaryTask);
    // Only while the line is still running: a settled line keeps its ending.
    if (target && (!line || !line.result || this.compact)) target.output = visible(`${host ? `${host}: ` : ''}${last.slice(0, 200)}`);
  }

  /** --until-converged: the robots waiting for another round are neither done nor failed meanwhile. */
  waiting(e: Extract<RunEvent, { type: 'waiting' }>): void {
    this.note = `${e.waiting} waiting (unreachable): next attempt in ${Math.round(e.nextInMs / 1000)} s, deadline in ${Math.round(e.deadlineInMs / 1000)} s`;
    this.counts.done -= e.waiting;
    this.counts.failed = Math.max(0, this.counts.failed - e.waiting);
    this.update();
  }

  event(e: RunEvent, checkMode: boolean): void {
    if (e.type === 'start') this.counts.running++;
    if (e.type === 'done') {
      const bad = countDone(this.counts, e.result);
      if (this.compact && this.summaryTask && bad) this.summaryTask.output = visible(`${e.result.host}: ${whyLines(e.result).join('; ')}`);
    }
    this.update();
    if (this.compact) return;
    const host = hostOf(e);
    const line = host ? this.lines.get(host) : undefined;
    if (line) lineOnEvent(line, e, checkMode);
  }

  async stop(err: (text: string) => void): Promise<void> {
    this.stopped = true;
    this.update();
    this.finishSummary();
    for (const [h, line] of this.lines) {
      if (!line.result) line.result = { host: h, status: 'skipped', changes: [], reasons: [reason('not-run', 'not run')], warnings: [], diffs: [], details: {}, error: null };
      if (line.title.endsWith(': waiting')) line.title = `${h}: not run`;
      show(line);
    }
    await this.running;
    if (this.log.length) err(this.log.join('\n'));
  }
}

export function ttyProgress(hosts: string[], title: string, opts: TtyOptions | number = {}): Progress {
  const o: TtyOptions = typeof opts === 'number' ? { compactOver: opts } : opts;
  const verbosity = o.verbosity ?? 0;
  const checkMode = Boolean(o.checkMode);
  const view = new TtyView(hosts, title, o.compactOver ?? 30);
  return {
    onEvent: (e) => {
      if (verbosity) view.verbose(hostOf(e), verboseLines(e, verbosity));
      if (e.type === 'debug') return;
      if (e.type === 'waiting') return view.waiting(e);
      view.event(e, checkMode);
    },
    notice: (text, h) => {
      view.note = text.trim();
      view.hint = h ?? '';
      view.interrupted = true;
      view.update();
    },
    stop: () => view.stop(o.err ?? ((t: string) => process.stderr.write(`${visible(t)}\n`))),
  };
}
