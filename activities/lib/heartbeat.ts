// Long external commands heartbeat on a timer, so a worker that dies mid-build is noticed within
// the heartbeat timeout instead of the much longer start-to-close timeout.
import { Context } from '@temporalio/activity';

export async function whileHeartbeating<T>(detail: unknown, work: () => Promise<T>, everyMs = 5_000): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(detail);
  const timer = setInterval(() => ctx.heartbeat(detail), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
