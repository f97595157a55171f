// The server's background loop over the webhook spool (./delivery-spool.ts): starts each queued
// delivery's release, oldest first, once Temporal answers, and removes it when started (or when
// there is nothing left to start). While Temporal stays unreachable it backs off, doubling the
// pause up to a ceiling; an idle spool is looked at again after a while or at once when told
// (`wake`). Every start and every failure is logged with the delivery id.
import type { FastifyBaseLogger } from 'fastify';
import type { DeliverySpool, SpooledDelivery } from './delivery-spool';
import { temporalUnreachable } from './temporal-unreachable';

export interface SpoolDrainOptions {
  readonly spool: DeliverySpool;
  /** Starts the release a queued delivery asks for; resolves to what happened, for the log. Throws to keep it queued. */
  readonly start: (entry: SpooledDelivery) => Promise<string>;
  readonly log: FastifyBaseLogger;
  /** First pause after a failed round, doubled per failed round (default 1 s). */
  readonly retryInitialMs?: number;
  /** Longest pause between failed rounds (default 60 s). */
  readonly retryMaxMs?: number;
  /** Pause between looks at an empty spool (default 30 s; `wake` cuts it short). */
  readonly idleMs?: number;
}

export interface SpoolDrain {
  /** A delivery was queued: look now, unless already backing off from an unreachable Temporal. */
  wake(): void;
  /** Finishes the current start, then stops. */
  stop(): Promise<void>;
}

export function startSpoolDrain(opts: SpoolDrainOptions): SpoolDrain {
  const initial = opts.retryInitialMs ?? 1000;
  const ceiling = opts.retryMaxMs ?? 60_000;
  const idle = opts.idleMs ?? 30_000;
  let stopped = false;
  let interrupt: (() => void) | undefined;
  let idling = false;
  let pause = initial;

  const sleep = (ms: number, isIdle: boolean) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        interrupt = undefined;
        idling = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      interrupt = done;
      idling = isIdle;
    });

  /** One pass over the spool; true when some delivery could not be started. */
  async function round(): Promise<boolean> {
    let failed = false;
    const entries = await opts.spool.list((file, reason) => opts.log.error({ file, reason }, 'webhook spool: unreadable delivery set aside'));
    for (const entry of entries) {
      if (stopped) break;
      const about = { delivery: entry.delivery, repository: entry.repository, tag: entry.tag };
      try {
        const said = await opts.start(entry);
        await opts.spool.remove(entry.delivery);
        opts.log.info(about, `webhook spool: delivery ${entry.delivery} (${entry.repository} ${entry.tag}): ${said}`);
      } catch (err) {
        failed = true;
        const message = err instanceof Error ? err.message : String(err);
        if (temporalUnreachable(err)) {
          opts.log.warn({ ...about, error: message }, `webhook spool: Temporal still unreachable; ${entries.length} deliveries queued`);
          // The rest would fail the same way; they keep their order.
          break;
        }
        opts.log.error({ ...about, error: message }, `webhook spool: delivery ${entry.delivery} could not be started; it stays queued`);
      }
    }
    return failed;
  }

  const loop = (async () => {
    while (!stopped) {
      let failed: boolean;
      try {
        failed = await round();
      } catch (err) {
        failed = true;
        opts.log.error({ error: err instanceof Error ? err.message : String(err), dir: opts.spool.dir }, 'webhook spool: cannot read the spool');
      }
      if (stopped) break;
      if (failed) {
        await sleep(pause, false);
        pause = Math.min(ceiling, pause * 2);
      } else {
        pause = initial;
        await sleep(idle, true);
      }
    }
  })();

  return {
    wake() {
      if (idling) interrupt?.();
    },
    async stop() {
      stopped = true;
      interrupt?.();
      await loop;
    },
  };
}
