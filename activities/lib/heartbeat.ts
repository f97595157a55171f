// Long steps heartbeat on a timer: a worker that dies mid-build is noticed within the heartbeat
// timeout instead of the much longer start-to-close timeout, and a cancel can reach the activity at
// all (Temporal delivers it only in the answer to a heartbeat). The last detail a step reported is
// what the timer repeats, so the UI keeps showing what the step is doing.
import { asyncLocalStorage, Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';

export const HEARTBEAT_EVERY_MS = 5_000;

const lastDetail = new WeakMap<Context, unknown>();

/** Heartbeats `detail` for the running activity; later timer heartbeats repeat it. */
export function heartbeat(detail: unknown): void {
  const ctx = Context.current();
  lastDetail.set(ctx, detail);
  ctx.heartbeat(detail);
}

/**
 * Heartbeats the activity's last detail every `everyMs` until the returned function is called; a
 * no-op outside an activity. What child processes run under, so steps without a heartbeat of their
 * own (validate's git) still hear a cancel.
 */
export function keepHeartbeating(everyMs = HEARTBEAT_EVERY_MS): () => void {
  const ctx = asyncLocalStorage.getStore();
  if (!ctx) return () => undefined;
  const timer = setInterval(() => ctx.heartbeat(lastDetail.get(ctx)), everyMs);
  return () => clearInterval(timer);
}

/**
 * Runs `work` heartbeating `detail` (or the step's later details) on a timer. Once the activity is
 * cancelled, whatever `work` fails with (a killed child's exit, an aborted request) is reported as
 * the cancellation it is, never as a failure Temporal would retry.
 */
export async function whileHeartbeating<T>(detail: unknown, work: () => Promise<T>, everyMs = HEARTBEAT_EVERY_MS): Promise<T> {
  const ctx = Context.current();
  heartbeat(detail);
  const timer = setInterval(() => ctx.heartbeat(lastDetail.get(ctx)), everyMs);
  try {
    return await work();
  } catch (err) {
    const signal = ctx.cancellationSignal;
    if (signal.aborted) throw signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure(String(signal.reason ?? 'CANCELLED'));
    throw err;
  } finally {
    clearInterval(timer);
  }
}
