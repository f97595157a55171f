// What `tagship server` reads from its environment for the webhook spool and CI's answers, and the
// Temporal client it uses: a lazy one, so the server starts (and keeps deliveries in the spool)
// while Temporal is down, where an eager connect would refuse to start at all.
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connectionOptions, type TemporalTarget } from '../client/connect';
import { dataConverter } from '../codec/data-converter';
import { DEFAULT_SPOOL_LIMIT } from './delivery-spool';

export interface ServerSettings {
  readonly spool: { readonly dir: string; readonly limit: number };
  readonly apiWaitMs: number;
}

/** Longest wait for validate and preflight a request may be held for (an hour). */
const MAX_API_WAIT_SECONDS = 3600;
const DEFAULT_API_WAIT_SECONDS = 600;

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw new Error(`${name}=${raw} must be a whole number from 1 to ${max}`);
  return Number(raw);
}

/**
 * TAGSHIP_WEBHOOK_SPOOL (default <TAGSHIP_HOME>/webhook-spool, TAGSHIP_HOME defaulting to
 * ./.tagship as for the worker), TAGSHIP_WEBHOOK_SPOOL_LIMIT (default 1000 deliveries) and
 * TAGSHIP_API_WAIT_SECONDS (default 600). `spoolDir` (a command-line flag) wins over the environment.
 */
export function serverSettingsFromEnv(env: NodeJS.ProcessEnv = process.env, spoolDir?: string): ServerSettings {
  const home = resolve(env.TAGSHIP_HOME || '.tagship');
  return {
    spool: {
      dir: resolve(spoolDir ?? (env.TAGSHIP_WEBHOOK_SPOOL || join(home, 'webhook-spool'))),
      limit: positiveInt(env, 'TAGSHIP_WEBHOOK_SPOOL_LIMIT', DEFAULT_SPOOL_LIMIT, 1_000_000),
    },
    apiWaitMs: positiveInt(env, 'TAGSHIP_API_WAIT_SECONDS', DEFAULT_API_WAIT_SECONDS, MAX_API_WAIT_SECONDS) * 1000,
  };
}

/** A client whose connection is made on first use, and again after Temporal comes back. */
export function lazyClient(target: Pick<TemporalTarget, 'address' | 'namespace' | 'codec' | 'transport'>): Client {
  return new Client({ connection: Connection.lazy(connectionOptions(target)), namespace: target.namespace, dataConverter: dataConverter(target.codec) });
}
