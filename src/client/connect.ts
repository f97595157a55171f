// Reaching Temporal from outside the worker (CLI, server, demo, tests): where it is, and a client
// that encrypts payloads with the same keys as the workers.
import { Client, Connection } from '@temporalio/client';
import { dataConverter } from '../codec/data-converter';
import { keyRingFromEnv, type KeyRing } from '../codec/encryption-codec';
import { DEFAULT_TASK_QUEUE } from '../contract/workflow-ids';

export interface TemporalTarget {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  /** Base URL of the Temporal UI, for links. */
  readonly uiUrl: string;
  /** Payload encryption keys (TAGSHIP_CODEC_KEYS); must match the workers'. */
  readonly codec?: KeyRing;
}

export function targetFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const codec = keyRingFromEnv(env);
  return {
    address: env.TAGSHIP_TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    namespace: env.TAGSHIP_NAMESPACE ?? 'default',
    taskQueue: env.TAGSHIP_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    uiUrl: env.TAGSHIP_UI_URL ?? 'http://127.0.0.1:8233',
    ...(codec ? { codec } : {}),
  };
}

export async function connectClient(target: Pick<TemporalTarget, 'address' | 'namespace' | 'codec'>): Promise<Client> {
  const connection = await Connection.connect({ address: target.address });
  return new Client({ connection, namespace: target.namespace, dataConverter: dataConverter(target.codec) });
}

export function workflowUiLink(target: Pick<TemporalTarget, 'uiUrl' | 'namespace'>, workflowId: string): string {
  return `${target.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(target.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
