import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, retry, type Clock } from '../../src/util/retry.js';

/** A clock that never waits: sleeping moves its time forward, and an abort during a sleep is seen at once. */
function fakeClock(randoms: number[] = []): Clock & { t: number; sleeps: number[]; onSleep?: (ms: number) => void } {
  const c = {
    t: 1_000_000,
    sleeps: [] as number[],
    onSleep: undefined as ((ms: number) => void) | undefined,
    now: () => c.t,
    random: () => randoms.shift() ?? 0.5,
    sleep: async (ms: number, signal?: AbortSignal) => {
      c.sleeps.push(ms);
      c.onSleep?.(ms);
      if (!signal?.aborted) c.t += ms;
    },
  };
  return c;
}

class Flaky extends Error {}
class Fatal extends Error {}

test('backoff: capped exponential, jitter scales each wait within [1 - j, 1 + j)', () => {
  const b = { firstMs: 500, factor: 2, maxMs: 8000 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(b, n, () => 0.5)), [500, 1000, 2000, 4000, 8000, 8000, 8000]);
  const j = { ...b, jitter: 0.5 };
  assert.equal(backoffDelay(j, 0, () => 0), 250);
  assert.equal(backoffDelay(j, 0, () => 0.5), 500);
  assert.equal(backoffDelay(j, 4, () => 0.999), 8000 * 1.499);
});

test('retry: only the failures its predicate names are tried again, with the backoff between them', async () => {
  const clock = fakeClock([0, 1 - 1e-9, 0.5]);
  const seen: number[] = [];
  const value = await retry(
    async (n) => {
      seen.push(n);
      if (n < 3) throw new Flaky();
      return 'up';
    },
    { retries: 5, delay: { firstMs: 500, factor: 2, maxMs: 8000, jitter: 0.5 }, retryOnError: (e) => e instanceof Flaky, clock },
  );
  assert.equal(value, 'up');
  assert.deepEqual(seen, [0, 1, 2, 3]);
  assert.deepEqual(clock.sleeps.map(Math.round), [250, 1500, 2000]);
  // A failure the predicate does not name is thrown at once, without a wait.
  const c2 = fakeClock();
  await assert.rejects(retry(async () => { throw new Fatal(); }, { retries: 5, delay: { firstMs: 1, factor: 1, maxMs: 1 }, retryOnError: (e) => e instanceof Flaky, clock: c2 }), Fatal);
  assert.deepEqual(c2.sleeps, []);
  // No predicate: nothing is retried.
  await assert.rejects(retry(async () => { throw new Flaky(); }, { delay: { firstMs: 1, factor: 1, maxMs: 1 }, clock: c2 }), Flaky);
});

test('retry: the attempts run out and the last failure is thrown', async () => {
  const clock = fakeClock();
  let n = 0;
  await assert.rejects(
    retry(async () => { throw new Flaky(`try ${n++}`); }, { retries: 2, delay: { firstMs: 500, factor: 2, maxMs: 8000 }, retryOnError: () => true, clock }),
    (e: Error) => e instanceof Flaky && e.message === 'try 2',
  );
  assert.deepEqual(clock.sleeps, [500, 1000]);
});

test('retry: a deadline caps the last wait, allows one attempt at it, then the last result stands', async () => {
  const clock = fakeClock();
  const start = clock.t;
  const rounds: number[] = [];
  const waits: number[] = [];
  const last = await retry(
    async (n) => {
      rounds.push(clock.t - start);
      return { n, pending: true };
    },
    { deadlineAt: start + 12_000, delay: { firstMs: 5000, factor: 2, maxMs: 60_000 }, retryOnValue: (v) => v.pending, onWait: (w) => waits.push(w.delayMs), clock },
  );
  assert.deepEqual(waits, [5000, 7000]);
  assert.deepEqual(rounds, [0, 5000, 12_000]);
  assert.equal(last.n, 2);
});

test('retry: an abort ends the wait under way and starts no further attempt', async () => {
  const clock = fakeClock();
  const ctl = new AbortController();
  clock.onSleep = () => ctl.abort();
  let attempts = 0;
  await assert.rejects(
    retry(async () => { attempts++; throw new Flaky(); }, { retries: 10, delay: { firstMs: 3000, factor: 1, maxMs: 3000 }, retryOnError: () => true, signal: ctl.signal, clock }),
    Flaky,
  );
  assert.equal(attempts, 1);
  // Already aborted: one attempt, no wait.
  const c2 = fakeClock();
  let tries = 0;
  const v = await retry(async () => ++tries, { delay: () => 1000, retryOnValue: () => true, signal: ctl.signal, clock: c2 });
  assert.equal(v, 1);
  assert.deepEqual(c2.sleeps, []);
});

test('retry: a schedule of the caller\'s own is asked for each wait', async () => {
  const clock = fakeClock();
  const asked: number[] = [];
  const v = await retry(async (n) => n, { delay: (n) => (asked.push(n), 100 * (n + 1)), retryOnValue: (n) => n < 3, clock });
  assert.equal(v, 3);
  assert.deepEqual(asked, [0, 1, 2]);
  assert.deepEqual(clock.sleeps, [100, 200, 300]);
});
