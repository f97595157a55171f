// A real OCI distribution registry (Debian's docker-registry, the CNCF distribution server) on
// 127.0.0.1 over plain HTTP, storing blobs under dataDir. Deletes are on so retags can be undone.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { privateDir, writePrivateFile } from './private-files';
import { freePort, httpOk, startService, type RunningService } from './service';
import { tools } from '../../../activities/lib/tools';

export interface RegistryOptions {
  readonly dataDir: string;
  readonly port?: number;
  /** Refuse every push (the registry's read-only maintenance mode), as a locked registry would. */
  readonly readOnly?: boolean;
}

export interface LocalRegistry {
  /** host:port, the registry part of an image reference. */
  readonly host: string;
  /** The server process (for the stack's state file). */
  readonly service: RunningService;
  stop(): Promise<void>;
}

export async function startRegistry(opts: RegistryOptions): Promise<LocalRegistry> {
  await privateDir(opts.dataDir);
  await mkdir(join(opts.dataDir, 'storage'), { recursive: true, mode: 0o700 });
  const port = opts.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const configFile = join(opts.dataDir, 'config.yml');
  // JSON is valid YAML, so no YAML writer is needed.
  const config = {
    version: 0.1,
    log: { level: 'error', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(opts.dataDir, 'storage') },
      delete: { enabled: true },
      ...(opts.readOnly ? { maintenance: { readonly: { enabled: true } } } : {}),
    },
    http: { addr: host, headers: { 'X-Content-Type-Options': ['nosniff'] } },
  };
  await writePrivateFile(configFile, JSON.stringify(config, null, 2));
  const service = await startService({
    name: 'docker-registry',
    file: tools.dockerRegistry(),
    args: ['serve', configFile],
    ports: [port],
    ready: () => httpOk(`http://${host}/v2/`),
  });
  return { host, service, stop: () => service.stop() };
}
