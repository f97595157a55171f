// The embedded stack: a real Temporal dev server (with UI), a real PyPI-compatible index
// (pypiserver) and a real OCI registry (docker-registry), all on 127.0.0.1, the registry holding a
// two-platform Python base image for Dockerfiles to build FROM. `tagship dev`, the demo, the
// end-to-end tests and the benchmark all run on it.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TagshipConfig } from '../../config/schema';
import type { WorkerSettings } from '../../../activities/lib/settings';
import { generateKeySpec, parseKeyRing, type KeyRing } from '../../codec/encryption-codec';
import { startPypiServer } from './pypiserver';
import { startRegistry } from './registry';
import { BASE_IMAGE_REPOSITORY, BASE_IMAGE_TAG, ensureBaseImage } from './base-image';
import { startTemporalDevServer } from './temporal';
import { freePort } from './service';
import { startLocalCodecServer } from '../../server/codec-server';
import { SEARCH_ATTRIBUTE_TYPES } from '../../contract/search-attributes';

export interface EmbeddedStack {
  readonly dataDir: string;
  readonly temporal: { readonly address: string; readonly uiUrl: string; readonly namespace: string };
  readonly index: { readonly uploadUrl: string; readonly simpleUrl: string; readonly username: string; readonly password: string };
  readonly registry: { readonly host: string };
  /**
   * The linux/amd64 + linux/arm64 Python base image in the stack's registry, e.g.
   * 127.0.0.1:5000/tagship/python:3.11-bookworm (where it would be when `baseImage: false`).
   */
  readonly baseImage: string;
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
  /** Put the Python base image into the registry (default true; built into the cache on first use). */
  readonly baseImage?: boolean;
  /** Progress of a base image build; stderr unless given. */
  readonly log?: (line: string) => void;
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
    const codecServer = opts.headless
      ? undefined
      : await track(startLocalCodecServer(codec, await freePort(), [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`]));
    // A failing service stops a base image build in progress instead of waiting a minute for it.
    const failed = new AbortController();
    const failFast = <T>(p: Promise<T>) =>
      p.catch((err: unknown) => {
        failed.abort(err);
        throw err;
      });
    const registryStarted = failFast(
      track(startRegistry({ dataDir: join(opts.dataDir, 'registry'), ...(opts.registryPort ? { port: opts.registryPort } : {}) })),
    );
    // Built (first time only) and pushed while Temporal starts, which takes seconds on its own.
    const baseImageReady = failFast(
      registryStarted.then(async (registry) => {
        if (opts.baseImage === false) return undefined;
        const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
        return (await ensureBaseImage({ registryHost: registry.host, signal: failed.signal, log })).ref;
      }),
    );
    const temporalStarted = failFast(
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
    );
    const indexStarted = failFast(track(startPypiServer({ dataDir: join(opts.dataDir, 'index'), ...(opts.indexPort ? { port: opts.indexPort } : {}) })));
    // Settle all before stopping anything: a service still starting when another failed would
    // otherwise be tracked after the stop and keep running. The first failure is the cause; later
    // ones may only be the abort it triggered.
    await Promise.allSettled([temporalStarted, indexStarted, registryStarted, baseImageReady]);
    if (failed.signal.aborted) throw failed.signal.reason;
    const [temporal, index, registry, baseImage] = await Promise.all([temporalStarted, indexStarted, registryStarted, baseImageReady]);
    return {
      dataDir: opts.dataDir,
      temporal: { address: temporal.address, uiUrl: temporal.uiUrl, namespace: temporal.namespace },
      index: { uploadUrl: index.uploadUrl, simpleUrl: index.simpleUrl, username: index.username, password: index.password },
      registry: { host: registry.host },
      baseImage: baseImage ?? `${registry.host}/${BASE_IMAGE_REPOSITORY}:${BASE_IMAGE_TAG}`,
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

/**
 * A release config pointed at the embedded index and registry, fetching from `repoUrl`, with the
 * stack's base image as BASE_IMAGE (for `ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}` Dockerfiles).
 */
export function configForStack(config: TagshipConfig, stack: EmbeddedStack, repoUrl: string): TagshipConfig {
  const imageName = config.images.repository.split('/').slice(1).join('/');
  return {
    ...config,
    repository: { ...config.repository, url: repoUrl },
    // The embedded stack has no GitHub; a test that wants the GitHub Release points it at a double.
    github_release: { ...config.github_release, enabled: false },
    index: { ...config.index, upload_url: stack.index.uploadUrl, simple_url: stack.index.simpleUrl, auth: 'token' },
    // The base image's registry is named on its own, so it stays reachable when a config moves
    // images.repository elsewhere (as the operator tests do).
    images: {
      ...config.images,
      repository: `${stack.registry.host}/${imageName}`,
      builder: 'buildah',
      insecure: true,
      insecure_registries: [...new Set([...config.images.insecure_registries, stack.registry.host])],
      build_args: { ...config.images.build_args, BASE_IMAGE: stack.baseImage },
    },
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
