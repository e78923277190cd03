/**
 * Live progress. In a terminal: listr2, a line per robot with its current step (a compact summary
 * view for large fleets). Otherwise: plain lines, one per event, on stderr. -v…-vvv add verbose lines
 * (see verboseLines); both views show them, and neither ever shows a secret (the runner redacts them).
 */
import type { HostResult, RunEvent } from '../runner/types.js';
import { statusWord } from '../report/recap.js';
import type { Out } from './output.js';

export interface Progress {
  onEvent: (e: RunEvent) => void;
  /**
   * A message about the whole run (an interrupt), shown where the operator is looking; `hint` (what
   * the operator can do about it now) is shown only while the run goes on.
   */
  notice: (text: string, hint?: string) => void;
  stop: () => Promise<void>;
}

export interface ProgressOptions {
  quiet?: boolean;
  /** -v: 1, -vv: 2, -vvv: 3. */
  verbosity?: number;
  /** A dry run: a robot that would change says `would-change`, as the recap does. */
  checkMode?: boolean;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** A robot's end in a few words: its state as the recap words it, and why (the error's kind only when it adds something). */
export function doneText(r: HostResult, checkMode: boolean): string {
  const word = statusWord(r, checkMode);
  if (r.error) return `${word} (${r.error.kind === r.status ? '' : `${r.error.kind}: `}${r.error.message})`;
  return `${word}${r.reasons.length ? ` (${r.reasons.map((x) => x.text).join('; ')})` : ''}`;
}

/**
 * What -v…-vvv add for an event, as lines without the robot's prefix (empty: nothing at this level).
 * -v: each step with how long the previous one took, how long each robot took, each command's exit
 * status and time; -vv: the scripts sent and the robot's raw output; -vvv: the SSH handshake.
 */
export function verboseLines(e: RunEvent, verbosity: number): string[] {
  if (verbosity < 1) return [];
  if (e.type === 'debug') return e.level <= verbosity ? e.text.split('\n') : [];
  if (e.type === 'step' && e.tookMs !== undefined && e.previous) return [e.previous === 'starting' ? `started: ${e.step}` : `'${e.previous}' took ${secs(e.tookMs)}; now: ${e.step}`];
  if (e.type === 'done' && e.result.durationMs !== undefined) return [`done in ${secs(e.result.durationMs)}`];
  return [];
}

export function plainProgress(io: Out, opts: ProgressOptions | boolean = {}): Progress {
  const o: ProgressOptions = typeof opts === 'boolean' ? { quiet: opts } : opts;
  const quiet = Boolean(o.quiet);
  const verbosity = o.verbosity ?? 0;
  // -v under --quiet still shows what -v asks for (the operator asked for it), only the ordinary lines go.
  const verbose = (e: RunEvent) => {
    const lines = verboseLines(e, verbosity);
    if (!lines.length) return;
    const host = e.type === 'done' ? e.result.host : 'host' in e ? e.host : undefined;
    const lvl = e.type === 'debug' ? `-${'v'.repeat(e.level)}` : '-v';
    const [first, ...rest] = lines;
    io.err([`[${host ?? '-'}] ${lvl} ${first}`, ...rest.map((l) => `[${host ?? '-'}] ${' '.repeat(lvl.length)} ${l}`)].join('\n'));
  };
  return {
    onEvent: (e) => {
      if (e.type === 'debug') return verbose(e);
      if (!quiet || e.type === 'warn' || e.type === 'abort' || e.type === 'waiting')
        switch (e.type) {
          case 'batch':
            // A later --until-converged round is the same run trying its unreachable robots again.
            if (e.round && e.round > 1) io.err(`== round ${e.round}: trying ${e.hosts.length} unreachable robot(s) again`);
            else io.err(`== batch ${e.index}/${e.total}: ${e.hosts.length} robot(s)`);
            break;
          case 'step':
            io.err(`[${e.host}] ${e.step}`);
            break;
          case 'warn':
            io.err(`[${e.host ?? '-'}] warning: ${e.message}`);
            break;
          case 'done':
            io.err(`[${e.result.host}] ${doneText(e.result, Boolean(o.checkMode))}`);
            break;
          case 'abort':
            io.err(`== stopping: ${e.reason}`);
            break;
          case 'waiting':
            io.err(`== ${e.done} robot(s) done, ${e.waiting} waiting (unreachable): next attempt in ${Math.round(e.nextInMs / 1000)} s, deadline in ${Math.round(e.deadlineInMs / 1000)} s`);
            break;
        }
      if (e.type === 'step' || e.type === 'done') verbose(e);
    },
    notice: (text, hint) => io.err(hint ? `${text} (${hint})` : text),
    stop: async () => {},
  };
}
