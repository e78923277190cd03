/**
 * The one retry loop (as Ansible's reboot action has one helper): attempts, a delay between them that
 * grows exponentially up to a cap with optional jitter (or a schedule of the caller's own), a typed
 * predicate for which failures or results call for another attempt, a deadline, and an abort signal that
 * wakes a wait at once and allows no further attempt. The clock (now, sleep, random) is injectable, so
 * tests run it deterministically without waiting.
 */

/** Capped exponential backoff: the n-th wait (n from 0) is min(maxMs, firstMs × factor^n), ± jitter. */
export interface Backoff {
  firstMs: number;
  /** Growth per wait (1: a fixed delay). */
  factor: number;
  maxMs: number;
  /** 0..1: each wait is scaled by a random factor in [1 − jitter, 1 + jitter). Default 0. */
  jitter?: number;
}

export interface Clock {
  now(): number;
  /** Waits ms, resolving early when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** In [0, 1). */
  random(): number;
}

/** Why another attempt is about to be made: the attempt's error, or its result. */
export type Outcome<T> = { error: unknown } | { value: T };

export interface RetryPolicy<T> {
  /** How many attempts after the first, at most (default: no limit; the deadline or the predicates end it). */
  retries?: number;
  /** No attempt starts after this time (clock ms), and no wait runs past it. */
  deadlineAt?: number;
  /** The wait before retry n (n from 0): a backoff, or the caller's own schedule. */
  delay: Backoff | ((n: number) => number);
  /** A failure that calls for another attempt (default: none; every failure is thrown at once). */
  retryOnError?: (e: unknown) => boolean;
  /** A result that calls for another attempt (default: none). The last such result is returned when no attempt is left. */
  retryOnValue?: (v: T) => boolean;
  /** Aborted: the wait under way ends at once and no further attempt starts (the last outcome stands). */
  signal?: AbortSignal;
  /** Told before each wait (e.g. to say what the robot waits for). */
  onWait?: (info: { retry: number; delayMs: number; outcome: Outcome<T> }) => void;
  clock?: Clock;
}

/** Sleeps, waking early on an abort. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export const systemClock: Clock = { now: () => Date.now(), sleep, random: () => Math.random() };

/** The wait before retry n (n from 0) under a backoff; `random` in [0, 1). */
export function backoffDelay(b: Backoff, n: number, random: () => number): number {
  const base = Math.min(b.maxMs, b.firstMs * b.factor ** n);
  const j = b.jitter ?? 0;
  return j ? base * (1 - j + 2 * j * random()) : base;
}

/**
 * Runs `attempt` (given its number, 0 for the first) until it succeeds with a result no predicate retries,
 * or no attempt is left (retries used, deadline reached, signal aborted): then the last failure is thrown,
 * or the last result returned.
 */
export async function retry<T>(attempt: (n: number) => Promise<T>, p: RetryPolicy<T>): Promise<T> {
  const clock = p.clock ?? systemClock;
  for (let n = 0; ; n++) {
    let outcome: Outcome<T>;
    try {
      outcome = { value: await attempt(n) };
      if (!p.retryOnValue?.(outcome.value)) return outcome.value;
    } catch (e) {
      if (!p.retryOnError?.(e)) throw e;
      outcome = { error: e };
    }
    const left = p.deadlineAt === undefined ? Infinity : p.deadlineAt - clock.now();
    const again = n < (p.retries ?? Infinity) && left > 0 && !p.signal?.aborted;
    if (again) {
      const wanted = typeof p.delay === 'function' ? p.delay(n) : backoffDelay(p.delay, n, clock.random);
      const delayMs = Math.max(0, Math.min(wanted, left));
      p.onWait?.({ retry: n, delayMs, outcome });
      await clock.sleep(delayMs, p.signal);
    }
    // A wait that ends at the deadline is followed by one last attempt; an abort allows none.
    if (!again || p.signal?.aborted) {
      if ('error' in outcome) throw outcome.error;
      return outcome.value;
    }
  }
}
