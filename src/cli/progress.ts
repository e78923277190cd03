/**
 * Live progress. In a terminal: listr2, a line per robot with its current step (a compact summary
 * view for large fleets). Otherwise: plain lines, one per event, on stderr.
 */
import type { RunEvent } from '../runner/types.js';
import type { Out } from './output.js';

export interface Progress {
  onEvent: (e: RunEvent) => void;
  /** A message about the whole run (an interrupt), shown where the operator is looking. */
  notice: (text: string) => void;
  stop: () => Promise<void>;
}

export function plainProgress(io: Out, quiet = false): Progress {
  return {
    onEvent: (e) => {
      if (quiet && e.type !== 'warn' && e.type !== 'abort' && e.type !== 'waiting') return;
      switch (e.type) {
        case 'batch':
          io.err(`== batch ${e.index}/${e.total}: ${e.hosts.length} robot(s)`);
          break;
        case 'step':
          io.err(`[${e.host}] ${e.step}`);
          break;
        case 'warn':
          io.err(`[${e.host ?? '-'}] warning: ${e.message}`);
          break;
        case 'done': {
          const r = e.result;
          io.err(`[${r.host}] ${r.status}${r.error ? ` (${r.error.kind}: ${r.error.message})` : r.reasons.length ? ` (${r.reasons.join('; ')})` : ''}`);
          break;
        }
        case 'abort':
          io.err(`== stopping: ${e.reason}`);
          break;
        case 'waiting':
          io.err(`== ${e.done} robot(s) done, ${e.waiting} waiting (unreachable): next attempt in ${Math.round(e.nextInMs / 1000)} s, deadline in ${Math.round(e.deadlineInMs / 1000)} s`);
          break;
      }
    },
    notice: (text) => io.err(text),
    stop: async () => {},
  };
}

