// The embedded stack: a real Temporal dev server (with UI), a real PyPI-compatible index
// (pypiserver) and a real OCI registry (docker-registry), all on 127.0.0.1. `tagship dev`, the
// demo, the end-to-end tests and the benchmark all run on it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TagshipConfig } from '../config';
import type { WorkerSettings } from '../worker-settings';
import { generateKeySpec, parseKeyRing, type KeyRing } from '../codec/encryption-codec';
import { startPypiServer } from './pypiserver';
import { startRegistry } from './registry';
import { startTemporalDevServer } from './temporal';
import { freePort } from './service';
import { startLocalCodecServer } from '../server/codec-server';
import { SEARCH_ATTRIBUTE_TYPES } from '../search-attributes';

export interface EmbeddedStack {
  readonly dataDir: string;
  readonly temporal: { readonly address: string; readonly uiUrl: string; readonly namespace: string };
  readonly index: { readonly uploadUrl: string; readonly simpleUrl: string; readonly username: string; readonly password: string };
  readonly registry: { readonly host: string };
  /** The stack's payload encryption keys, kept in `codecKeysFile` (0600) for clients to use. */
  readonly codec: KeyRing;
  readonly codecKeysFile: string;
  stop(): Promise<void>;
}

export interface EmbeddedStackOptions {
  readonly dataDir: string;
  readonly temporalPort?: number;
  readonly uiPort?: number;
  readonly indexPort?: number;
  readonly registryPort?: number;
  /** Keep Temporal's state in dataDir across restarts (tagship dev); tests use memory. */
  readonly persistent?: boolean;
  readonly headless?: boolean;
}

/** The stack's codec key, created once per data dir so a persistent dev stack can read its old history. */
async function stackKeyRing(file: string): Promise<KeyRing> {
  let spec = await readFile(file, 'utf8').catch(() => undefined);
  if (spec === undefined) {
    spec = generateKeySpec('dev');
    await writeFile(file, spec, { mode: 0o600 });
  }
  return parseKeyRing(spec, file);
}

export async function startEmbeddedStack(opts: EmbeddedStackOptions): Promise<EmbeddedStack> {
  await mkdir(opts.dataDir, { recursive: true });
  const codecKeysFile = join(opts.dataDir, 'codec-keys');
  const codec = await stackKeyRing(codecKeysFile);
  const started: { stop(): Promise<void> }[] = [];
  const track = <T extends { stop(): Promise<void> }>(p: Promise<T>) =>
    p.then((s) => {
      started.push(s);
      return s;
    });
  try {
    // The UI decodes payloads through a local codec endpoint; it needs the UI's port up front.
    const uiPort = opts.uiPort ?? (await freePort());
    const codecServer = opts.headless ? undefined : await track(startLocalCodecServer(codec, await freePort(), [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`]));
    const [temporal, index, registry] = await Promise.all([
      track(
        startTemporalDevServer({
          ...(opts.temporalPort ? { port: opts.temporalPort } : {}),
          uiPort,
          ...(codecServer ? { uiCodecEndpoint: codecServer.endpoint } : {}),
          ...(opts.persistent ? { dbFile: join(opts.dataDir, 'temporal.db') } : {}),
          headless: opts.headless ?? false,
          searchAttributes: SEARCH_ATTRIBUTE_TYPES,
        }),
      ),
      track(startPypiServer({ dataDir: join(opts.dataDir, 'index'), ...(opts.indexPort ? { port: opts.indexPort } : {}) })),
      track(startRegistry({ dataDir: join(opts.dataDir, 'registry'), ...(opts.registryPort ? { port: opts.registryPort } : {}) })),
    ]);
    return {
      dataDir: opts.dataDir,
      temporal: { address: temporal.address, uiUrl: temporal.uiUrl, namespace: temporal.namespace },
      index: { uploadUrl: index.uploadUrl, simpleUrl: index.simpleUrl, username: index.username, password: index.password },
      registry: { host: registry.host },
      codec,
      codecKeysFile,
      async stop() {
        await Promise.allSettled(started.map((s) => s.stop()));
      },
    };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    throw err;
  }
}

/** A release config pointed at the embedded index and registry, fetching from `repoUrl`. */
export function configForStack(config: TagshipConfig, stack: EmbeddedStack, repoUrl: string): TagshipConfig {
  const imageName = config.images.repository.split('/').slice(1).join('/');
  return {
    ...config,
    repository: { ...config.repository, url: repoUrl },
    index: { ...config.index, upload_url: stack.index.uploadUrl, simple_url: stack.index.simpleUrl, auth: 'token' },
    images: { ...config.images, repository: `${stack.registry.host}/${imageName}`, builder: 'buildah', insecure: true },
  };
}

/** Worker settings for the embedded stack: its index credentials, storage under dataDir. */
export function workerSettingsForStack(stack: EmbeddedStack): WorkerSettings {
  return {
    workDir: join(stack.dataDir, 'work'),
    artifactDir: join(stack.dataDir, 'artifacts'),
    index: { username: stack.index.username, password: stack.index.password },
    codec: stack.codec,
  };
}
