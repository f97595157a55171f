// The one way tests wait for something that happens asynchronously (a workflow step reaching a
// state, a process printing a line, a UI frame showing a text): poll a probe until a predicate
// holds, and otherwise FAIL with what was awaited and what the probe last gave (value or error).
// A wait never ends silently: there is no "give up after N tries and carry on".
import { AssertionError } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

export interface EventuallyOptions<T> {
  /** How long to keep polling (default 60 s). */
  readonly timeoutMs?: number;
  /** Pause between two probes (default 250 ms). */
  readonly intervalMs?: number;
  /** How to show the last value in the failure message (default: util.inspect, shortened). */
  readonly show?: (value: T) => string;
}

const MAX_SHOWN = 4000;

function shorten(text: string): string {
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}… (${text.length - MAX_SHOWN} more characters)` : text;
}

const NOTHING = Symbol('nothing yet');

/**
 * Calls `probe` until `until(value)` is true and returns that value. A probe that throws (a query
 * before the workflow exists, a server not up yet) counts as "not yet". At the deadline, or if a
 * probe is still pending at the deadline, throws an AssertionError naming `what` and the last value
 * or error seen.
 */
export async function eventually<T>(what: string, probe: () => T | Promise<T>, until: (value: T) => boolean, opts: EventuallyOptions<T> = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 250;
  const show = opts.show ?? ((v: T) => inspect(v, { depth: 6, breakLength: 160 }));
  const started = Date.now();
  const deadline = started + timeoutMs;
  let last: { value: T } | { error: unknown } | typeof NOTHING = NOTHING;
  let attempts = 0;

  const fail = (pending: boolean): never => {
    const seen =
      last === NOTHING
        ? 'the probe never answered'
        : 'error' in last
          ? `the last probe failed: ${inspect(last.error, { depth: 4, breakLength: 160 })}`
          : `last seen: ${show(last.value)}`;
    throw new AssertionError({
      message: shorten(
        `timed out after ${Date.now() - started} ms (${attempts} probe${attempts === 1 ? '' : 's'}) waiting for ${what}; ${seen}${pending ? '; a probe was still pending at the deadline' : ''}`,
      ),
      stackStartFn: eventually,
    });
  };

  for (;;) {
    attempts++;
    const left = deadline - Date.now();
    const attempt = Promise.resolve().then(probe);
    // A probe that hangs must not outlive the deadline unnoticed.
    const timer = new AbortController();
    const outcome = await Promise.race([
      attempt.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      sleep(Math.max(left, 0), NOTHING, { signal: timer.signal }).catch(() => NOTHING),
    ]);
    timer.abort();
    if (outcome === NOTHING) {
      attempt.catch(() => undefined);
      fail(true);
    }
    last = outcome as { value: T } | { error: unknown };
    if ('value' in last) {
      let holds = false;
      try {
        holds = until(last.value);
      } catch (error) {
        // A predicate that cannot judge this value yet (say, a step list not there) is "not yet".
        last = { error };
      }
      if (holds) return (last as { value: T }).value;
    }
    if (Date.now() >= deadline) fail(false);
    await sleep(Math.min(intervalMs, Math.max(deadline - Date.now(), 0)));
  }
}
