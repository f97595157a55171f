// One image variant, end to end: build every platform from the validated commit, smoke-test each,
// push, read the index back from the registry, prove what every platform contains, then give it
// its other tags. A moving tag (e.g. `core-latest`) is moved only after the contents are proven.
// Registry credentials reach the builder through a 0600 file, never argv, logs or RUN steps.
import { access, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { PublishedImage } from '../../src/contract/release';
import type { Credentials } from './settings';
import { buildWithBuildah } from './buildah-builder';
import { buildWithBuildx } from './buildx-builder';
import { ownedTempDir } from './leftovers';
import type { BuildSlots } from './build-slots';
import { verifyImageContents, type ExpectedPackage } from './image-contents';
import { planImage, type ImagePlan, type ImagePlanInput } from './image-plan';
import { moveTags } from './image-tags';
import { INDEX_MEDIA_TYPES, parseImageRepository, platformOf, registryFor, withRegistryFailures } from './registry-client';
import { failure } from '../../src/contract/failures';

export interface ImageJob extends ImagePlanInput {
  readonly registryAuth?: Credentials;
  /** Per-worker buildah storage. */
  readonly buildahRoot?: string;
  /** The worker's image build slots; without them the build starts at once. */
  readonly slots?: BuildSlots;
  /** The published wheels of every package the variant installs; without it contents are not verified. */
  readonly expected?: () => Promise<readonly ExpectedPackage[]>;
  /** Per-worker cache of layer scans. */
  readonly scanCacheDir?: string;
  readonly signal?: AbortSignal;
  readonly heartbeat?: (detail: string) => void;
}

/**
 * A docker-style config.json with one registry's credentials: 0600 in a 0700 directory named for
 * this worker process, removed in the caller's `finally` or, if the worker is killed first, by the
 * next worker's sweep (leftovers.ts).
 */
async function writeAuthConfig(registry: string, auth: Credentials | undefined): Promise<{ dir: string; file: string } | undefined> {
  if (!auth) return undefined;
  const dir = await ownedTempDir('auth');
  const file = join(dir, 'config.json');
  const encoded = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  await writeFile(file, JSON.stringify({ auths: { [registry]: { auth: encoded } } }), { mode: 0o600, flag: 'wx' });
  return { dir, file };
}

async function buildAndPush(job: ImageJob, plan: ImagePlan): Promise<Record<string, number>> {
  const { images } = job.config;
  const registry = parseImageRepository(images.repository).registry;
  const auth = await writeAuthConfig(registry, job.registryAuth);
  const common = { ...(job.signal ? { signal: job.signal } : {}), ...(job.heartbeat ? { heartbeat: job.heartbeat } : {}) };
  try {
    if (images.builder === 'docker') {
      await buildWithBuildx(plan, { insecure: images.insecure, ...(auth ? { dockerConfig: auth.dir } : {}), ...common });
      return {};
    }
    return await buildWithBuildah(plan, {
      root: job.buildahRoot ?? join(tmpdir(), 'tagship-buildah'),
      insecure: images.insecure,
      insecureRegistries: [...(images.insecure ? [registry] : []), ...images.insecure_registries],
      ...(auth ? { authFile: auth.file } : {}),
      ...common,
    });
  } finally {
    if (auth) await rm(auth.dir, { recursive: true, force: true });
  }
}

export async function publishVariantImage(job: ImageJob): Promise<PublishedImage> {
  const { images } = job.config;
  const plan = planImage(job);
  try {
    await access(plan.dockerfile);
  } catch {
    throw failure('DockerfileMissing', `${images.dockerfile} not found at commit ${job.commit.slice(0, 12)} (images.dockerfile in tagship.toml)`);
  }
  const build = () => buildAndPush(job, plan);
  const buildMs = job.slots
    ? await job.slots.run(build, job.signal, (position) =>
        job.heartbeat?.(`waiting for an image build slot on this worker (${position} in line, ${job.slots!.size} at a time)`),
      )
    : await build();
  return withRegistryFailures(async () => {
    job.heartbeat?.(`reading ${plan.ref} back from the registry`);
    const client = registryFor(images, job.registryAuth, job.signal);
    const tag = plan.ref.slice(images.repository.length + 1);
    const pushed = await client.getManifest(tag);
    if (!pushed) throw failure('ImageNotFound', `${plan.ref} is not in the registry after the push`);
    if (!(INDEX_MEDIA_TYPES as readonly string[]).includes(pushed.mediaType)) {
      throw failure('ImageIncomplete', `${plan.ref} is a single-platform ${pushed.mediaType}, expected a multi-platform index`);
    }
    const platforms = (pushed.json.manifests ?? []).map(platformOf);
    const missing = images.platforms.filter((p) => !platforms.includes(p));
    if (missing.length > 0) {
      throw failure('ImageIncomplete', `${plan.ref} lacks platform(s) ${missing.join(', ')}; it has ${platforms.join(', ') || 'none'}`);
    }
    const verified = job.expected
      ? await verifyImageContents({
          client,
          index: pushed,
          platforms: images.platforms,
          packages: await job.expected(),
          ...(job.scanCacheDir ? { cacheDir: job.scanCacheDir } : {}),
          ...(job.signal ? { signal: job.signal } : {}),
          ...(job.heartbeat ? { heartbeat: job.heartbeat } : {}),
        }).catch((err: unknown) => {
          if (!(err instanceof ApplicationFailure) || err.type !== 'ImageContentMismatch') throw err;
          throw failure('ImageContentMismatch', `${err.message}\n${plan.ref} was pushed but is not proven; no moving tag points at it`);
        })
      : undefined;
    // Further immutable tags ({version} templates) name the same bytes.
    for (const extra of plan.tags.slice(1)) await client.putManifest(extra.slice(images.repository.length + 1), pushed);
    const moving = await moveTags(client, job.config, job.variant.name, job.version, pushed);
    const tags = [...plan.tags, ...moving.filter((m) => m.moved).map((m) => `${images.repository}:${m.tag}`)];
    const first = moving[0];
    return {
      variant: job.variant.name,
      tags,
      digest: pushed.digest,
      platforms: [...platforms].sort(),
      latest: first ? { moved: first.moved, reason: first.reason } : { moved: false, reason: 'no moving tags configured' },
      moving,
      ...(verified ? { verified } : {}),
      ...(Object.keys(buildMs).length > 0 ? { buildMs } : {}),
    };
  });
}
