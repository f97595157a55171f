// Poll the index's Simple API until every file of the package is listed with the hash we built.
// Heartbeats carry the poll count, so a retry after a worker crash resumes the count.
import { Context } from '@temporalio/activity';
import type { VisiblePackage } from '../src/contract/release';
import { IndexHttpError, listProjectFiles } from './lib/simple-index';
import type { WaitVisibleInput } from '../src/contract/activities';

export async function waitUntilVisible(input: WaitVisibleInput): Promise<VisiblePackage> {
  const ctx = Context.current();
  let polls = typeof ctx.info.heartbeatDetails === 'number' ? ctx.info.heartbeatDetails : 0;
  const interval = input.pollIntervalMs ?? 2_000;
  for (;;) {
    polls++;
    let missing: string[];
    try {
      const listed = await listProjectFiles(input.config.index.simple_url, input.package, ctx.cancellationSignal);
      missing = input.files
        .filter((f) => !listed.some((l) => l.filename === f.filename && (l.sha256 === undefined || l.sha256 === f.sha256)))
        .map((f) => f.filename);
    } catch (err) {
      // The index being briefly unreachable is what this step waits out.
      if (!(err instanceof IndexHttpError && err.retryable)) throw err;
      missing = input.files.map((f) => f.filename);
    }
    if (missing.length === 0) return { package: input.package, polls };
    ctx.heartbeat(polls);
    await ctx.sleep(interval);
  }
}
