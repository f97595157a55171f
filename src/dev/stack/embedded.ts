// The embedded stack: a real Temporal dev server (with UI), a real PyPI-compatible index
// (pypiserver) and a real OCI registry (docker-registry), all on 127.0.0.1, the registry holding a
// two-platform Python base image for Dockerfiles to build FROM. `tagship dev`, the demo, the
// end-to-end tests and the benchmark all run on it.
//
// The data dir (0700) is owned by one live process at a time (stack-state.ts); its servers die
// with that process (service.ts); its private files (codec keys, htpasswd, state) are 0600.
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TagshipConfig } from '../../config/schema';
import type { WorkerSettings } from '../../../activities/lib/settings';
import { generateKeySpec, parseKeyRing, type KeyRing } from '../../codec/encryption-codec';
import { startPypiServer } from './pypiserver';
import { startRegistry } from './registry';
import { BASE_IMAGE_REPOSITORY, BASE_IMAGE_TAG, ensureBaseImage } from './base-image';
import { startTemporalDevServer } from './temporal';
import { freePort, type RunningService } from './service';
import { requirePortsFree } from './ports';
import { createPrivateFile, privateDir } from './private-files';
import { claimStack, type ServiceHealth, type StackClaim } from './stack-state';
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
  /** Progress of a base image build, and what a restart cleaned up; stderr unless given. */
  readonly log?: (line: string) => void;
  /** Aborts the start: what has started is stopped, and the start rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * The stack's codec key, created once per data dir so a persistent dev stack can read its old
 * history. The worker and every client of the stack encrypt with it: payloads in the dev
 * server's history are never plain text, as in production.
 */
async function stackKeyRing(file: string): Promise<KeyRing> {
  await createPrivateFile(file, generateKeySpec('dev'));
  // A file from before keys were kept private.
  await chmod(file, 0o600);
  return parseKeyRing(await readFile(file, 'utf8'), file);
}

export async function startEmbeddedStack(opts: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const log = opts.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  await privateDir(opts.dataDir);
  opts.signal?.throwIfAborted();
  const claim = await claimStack(opts.dataDir, log);
  const started: { stop(): Promise<void> }[] = [];
  try {
    return await startServices(opts, log, claim, started);
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.stop()));
    await claim.release();
    throw err;
  }
}

async function startServices(
  opts: EmbeddedStackOptions,
  log: (line: string) => void,
  claim: StackClaim,
  started: { stop(): Promise<void> }[],
): Promise<EmbeddedStack> {
  opts.signal?.throwIfAborted();
  const codecKeysFile = join(opts.dataDir, 'codec-keys');
  const codec = await stackKeyRing(codecKeysFile);
  const track = <T extends { stop(): Promise<void> }>(p: Promise<T>) =>
    p.then((s) => {
      started.push(s);
      return s;
    });
  // Each server goes into the state file as soon as it is up, so a restart after this process
  // dies finds and stops it.
  const record = <T extends { service: RunningService; stop(): Promise<void> }>(p: Promise<T>, health: (s: T) => ServiceHealth) =>
    track(p).then(async (s) => {
      await claim.record(s.service, health(s));
      return s;
    });
  // Every given port is checked before anything starts (each server checks its own again).
  const given: [number | undefined, string][] = [
    [opts.temporalPort, 'temporal dev server'],
    [opts.headless ? undefined : opts.uiPort, 'Temporal UI'],
    [opts.indexPort, 'pypiserver'],
    [opts.registryPort, 'docker-registry'],
  ];
  for (const [port, name] of given) if (port) await requirePortsFree([port], name);
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
  const { signal } = opts;
  if (signal) {
    if (signal.aborted) failed.abort(signal.reason);
    else signal.addEventListener('abort', () => failed.abort(signal.reason), { once: true });
  }
  const registryStarted = failFast(
    record(startRegistry({ dataDir: join(opts.dataDir, 'registry'), ...(opts.registryPort ? { port: opts.registryPort } : {}) }), (r) => ({
      kind: 'http',
      url: `http://${r.host}/v2/`,
    })),
  );
  // Built (first time only) and pushed while Temporal starts, which takes seconds on its own.
  const baseImageReady = failFast(
    registryStarted.then(async (registry) => {
      if (opts.baseImage === false) return undefined;
      return (await ensureBaseImage({ registryHost: registry.host, signal: failed.signal, log })).ref;
    }),
  );
  const temporalStarted = failFast(
    record(
      startTemporalDevServer({
        ...(opts.temporalPort ? { port: opts.temporalPort } : {}),
        uiPort,
        ...(codecServer ? { uiCodecEndpoint: codecServer.endpoint } : {}),
        ...(opts.persistent ? { dbFile: join(opts.dataDir, 'temporal.db') } : {}),
        headless: opts.headless ?? false,
        searchAttributes: SEARCH_ATTRIBUTE_TYPES,
      }),
      (t) => ({ kind: 'temporal', address: t.address, namespace: t.namespace }),
    ),
  );
  const indexStarted = failFast(
    record(startPypiServer({ dataDir: join(opts.dataDir, 'index'), ...(opts.indexPort ? { port: opts.indexPort } : {}) }), (i) => ({
      kind: 'http',
      url: i.simpleUrl,
    })),
  );
  // Settle all before stopping anything: a service still starting when another failed would
  // otherwise be tracked after the stop and keep running. The first failure is the cause; later
  // ones may only be the abort it triggered.
  await Promise.allSettled([temporalStarted, indexStarted, registryStarted, baseImageReady]);
  if (failed.signal.aborted) throw failed.signal.reason;
  const [temporal, index, registry, baseImage] = await Promise.all([temporalStarted, indexStarted, registryStarted, baseImageReady]);
  let stopping: Promise<void> | undefined;
  return {
    dataDir: opts.dataDir,
    temporal: { address: temporal.address, uiUrl: temporal.uiUrl, namespace: temporal.namespace },
    index: { uploadUrl: index.uploadUrl, simpleUrl: index.simpleUrl, username: index.username, password: index.password },
    registry: { host: registry.host },
    baseImage: baseImage ?? `${registry.host}/${BASE_IMAGE_REPOSITORY}:${BASE_IMAGE_TAG}`,
    codec,
    codecKeysFile,
    stop() {
      return (stopping ??= (async () => {
        await Promise.allSettled(started.map((s) => s.stop()));
        await claim.release();
      })());
    },
  };
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
