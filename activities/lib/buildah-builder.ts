// buildah, for real Dockerfiles without a Docker engine: every platform is built on its own
// (foreign ones run their RUN steps under QEMU's binfmt handlers), smoke-tested in the built image,
// and only then are all of them pushed as one multi-platform index.
//
// Choices that real Dockerfiles need:
// - chroot isolation: no OCI runtime is needed, RUN steps share the worker's network (so a local
//   index on 127.0.0.1 is reachable) and run the image's own binaries (under emulation if foreign);
// - docker format: OCI image configs have no SHELL or HEALTHCHECK, and buildah silently drops them;
// - --pull (buildah's "pull when newer"): a rebuilt base image is picked up, an unchanged one is not downloaded;
// - plain-HTTP registries through a registries.conf, so FROM pulls and pushes reach them alike;
// - overlay storage, falling back to vfs where overlay cannot mount (vfs copies the whole root
//   filesystem for every layer: slow, and it fills disks).
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tools } from './tools';
import { buildFailure, classifyBuildOutput, lastLines, normalizeOutput } from './build-failure';
import { runBuilder, type BuilderRun } from './builder-process';
import { ownedTempDir } from './leftovers';
import { argPairs, type ImagePlan } from './image-plan';
import { failure } from '../../src/contract/failures';

export type StorageDriver = 'overlay' | 'vfs';

export function buildahGlobal(root: string, driver: StorageDriver): string[] {
  // One storage tree per driver: a tree made by one driver cannot be opened by the other.
  return ['--root', join(root, driver, 'storage'), '--runroot', join(root, driver, 'run'), '--storage-driver', driver];
}

const probed = new Map<string, Promise<StorageDriver>>();

/** overlay when it mounts here, else vfs; TAGSHIP_BUILDAH_STORAGE_DRIVER decides when set. Probed once per root. */
export function storageDriver(root: string): Promise<StorageDriver> {
  const forced = process.env.TAGSHIP_BUILDAH_STORAGE_DRIVER;
  if (forced === 'overlay' || forced === 'vfs') return Promise.resolve(forced);
  let p = probed.get(root);
  if (!p) {
    p = (async () => {
      const global = buildahGlobal(root, 'overlay');
      // Shared by every step on this worker (the answer is cached), so no one step's cancel may cut it short.
      const from = await runBuilder(tools.buildah(), [...global, 'from', '--quiet', 'scratch'], { cancellable: false });
      const ctr = from.output.trim().split('\n').pop() ?? '';
      if (from.exitCode !== 0 || !ctr) return 'vfs';
      const mount = await runBuilder(tools.buildah(), [...global, 'mount', ctr], { cancellable: false });
      await runBuilder(tools.buildah(), [...global, 'rm', ctr], { cancellable: false });
      return mount.exitCode === 0 ? 'overlay' : 'vfs';
    })();
    probed.set(root, p);
  }
  return p;
}

/** A registries.conf marking `hosts` as plain HTTP; unqualified names still resolve on Docker Hub. */
export function registriesConf(hosts: readonly string[]): string {
  const entries = [...new Set(hosts)].map((h) => `[[registry]]\nlocation = ${JSON.stringify(h)}\ninsecure = true\n`);
  return ['unqualified-search-registries = ["docker.io"]', '', ...entries].join('\n');
}

export function buildahBuildArgs(plan: ImagePlan, global: readonly string[], manifest: string, platform: string, iidFile: string): string[] {
  return [
    ...global,
    'build',
    '--isolation',
    'chroot',
    '--format',
    'docker',
    '--pull',
    '--platform',
    platform,
    '--manifest',
    manifest,
    '--iidfile',
    iidFile,
    '--file',
    plan.dockerfile,
    ...argPairs('--build-arg', plan.buildArgs),
    ...argPairs('--label', plan.labels),
    ...(plan.created !== undefined ? ['--timestamp', String(plan.created)] : []),
    '--',
    plan.context,
  ];
}

export function buildahPushArgs(plan: ImagePlan, global: readonly string[], manifest: string, opts: { insecure: boolean; authFile?: string }): string[] {
  return [
    ...global,
    'manifest',
    'push',
    '--all',
    // v2s2 keeps SHELL and HEALTHCHECK, which converting to OCI at push time would drop.
    '--format',
    'v2s2',
    ...(opts.insecure ? ['--tls-verify=false'] : []),
    ...(opts.authFile ? ['--authfile', opts.authFile] : []),
    manifest,
    `docker://${plan.ref}`,
  ];
}

export interface BuildahOptions {
  /** Per-worker storage root (drivers get subdirectories). */
  readonly root: string;
  /** Registries reached over plain HTTP (the target when images.insecure, and images.insecure_registries). */
  readonly insecureRegistries: readonly string[];
  /** The image's own registry is plain HTTP. */
  readonly insecure: boolean;
  readonly authFile?: string;
  readonly signal?: AbortSignal;
  readonly heartbeat?: (detail: string) => void;
}

/** Runs the smoke command in one platform's built image; its output is the failure's message. */
async function smokeTest(plan: ImagePlan, global: readonly string[], imageId: string, platform: string, opts: BuildahOptions): Promise<void> {
  const from = await runBuilder(tools.buildah(), [...global, 'from', '--quiet', '--pull=never', imageId], opts.signal ? { signal: opts.signal } : {});
  const ctr = from.output.trim().split('\n').pop() ?? '';
  if (from.exitCode !== 0 || !ctr) throw buildFailure('other', `smoke test container for ${platform}`, from.exitCode, from.output);
  try {
    const run = await runBuilder(
      tools.buildah(),
      [...global, 'run', '--isolation', 'chroot', ctr, '--', ...plan.smoke],
      opts.signal ? { signal: opts.signal } : {},
    );
    if (run.exitCode !== 0) {
      throw failure(
        'ImageSmokeFailed',
        `smoke test failed on ${platform} (exit ${run.exitCode ?? '?'}): ${JSON.stringify(plan.smoke)} in ${plan.ref}; nothing was pushed\n${lastLines(run.output)}`,
      );
    }
  } finally {
    await runBuilder(tools.buildah(), [...global, 'rm', ctr], { cancellable: false });
  }
}

/** Builds one platform; a failed RUN step is run once more to tell a deterministic failure from a flaky one. */
async function buildPlatform(
  plan: ImagePlan,
  global: readonly string[],
  manifest: string,
  platform: string,
  iidFile: string,
  env: Record<string, string>,
  opts: BuildahOptions,
): Promise<void> {
  const what = `build of ${plan.ref} for ${platform}`;
  const attempt = (): Promise<BuilderRun> =>
    runBuilder(tools.buildah(), buildahBuildArgs(plan, global, manifest, platform, iidFile), { env, ...(opts.signal ? { signal: opts.signal } : {}) });
  const first = await attempt();
  if (first.exitCode === 0) return;
  const kind = classifyBuildOutput(first.output);
  if (kind !== 'run-failed') throw buildFailure(kind, what, first.exitCode, first.output);
  opts.heartbeat?.(`${what}: a RUN step failed; running it again to see whether it fails the same way`);
  const second = await attempt();
  if (second.exitCode === 0) return;
  const same = normalizeOutput(first.output) === normalizeOutput(second.output);
  throw buildFailure(same ? 'run-failed' : 'other', what, second.exitCode, second.output);
}

/** Builds every platform, smoke-tests each, then pushes the multi-platform index to `plan.ref`; returns each platform's build time. */
export async function buildWithBuildah(plan: ImagePlan, opts: BuildahOptions): Promise<Record<string, number>> {
  const driver = await storageDriver(opts.root);
  const global = buildahGlobal(opts.root, driver);
  // Named for this worker process, so a later worker's sweep removes it if this one is killed.
  const work = await ownedTempDir('job', opts.root);
  const env: Record<string, string> = {};
  if (opts.insecureRegistries.length > 0) {
    env.CONTAINERS_REGISTRIES_CONF = join(work, 'registries.conf');
    await writeFile(env.CONTAINERS_REGISTRIES_CONF, registriesConf(opts.insecureRegistries));
  }
  // Unique per attempt: parallel variants and retried attempts never share a manifest list.
  const manifest = `tagship-${randomBytes(6).toString('hex')}`;
  const took: Record<string, number> = {};
  try {
    for (const platform of plan.platforms) {
      const t0 = performance.now();
      opts.heartbeat?.(`building ${plan.ref} for ${platform}`);
      const iidFile = join(work, `iid-${platform.replaceAll('/', '-')}`);
      await buildPlatform(plan, global, manifest, platform, iidFile, env, opts);
      if (plan.smoke.length > 0) {
        opts.heartbeat?.(`smoke test of ${plan.ref} on ${platform}`);
        await smokeTest(plan, global, (await readFile(iidFile, 'utf8')).trim(), platform, opts);
      }
      took[platform] = Math.round(performance.now() - t0);
    }
    opts.heartbeat?.(`pushing ${plan.ref}`);
    const push = await runBuilder(
      tools.buildah(),
      buildahPushArgs(plan, global, manifest, { insecure: opts.insecure, ...(opts.authFile ? { authFile: opts.authFile } : {}) }),
      {
        env,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
    );
    if (push.exitCode !== 0) throw buildFailure(classifyBuildOutput(push.output, true), `push of ${plan.ref}`, push.exitCode, push.output);
    return took;
  } finally {
    await runBuilder(tools.buildah(), [...global, 'manifest', 'rm', manifest], { cancellable: false });
    await rm(work, { recursive: true, force: true });
  }
}
