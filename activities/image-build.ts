// Build one image variant for every configured platform, push `<version>-<variant>`, read it back
// from the registry, and move `<variant>-latest` to the same digest when the release is the newest
// stable one. Builders: `docker buildx` (production default) and `buildah` (no engine needed).
// Registry credentials reach the builder through a 0600 auth file, never argv or logs.
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import type { TagshipConfig, VariantConfig } from '../src/config';
import type { PublishedImage } from '../src/release-types';
import { tools } from '../src/stack/tools';
import type { Credentials } from '../src/worker-settings';
import { decideLatest, latestTag, versionedTag } from './latest-tag';
import { INDEX_MEDIA_TYPES, parseImageRepository, platformOf, registryFor, withRegistryFailures } from './registry-client';

export interface ImageJob {
  readonly sourceDir: string;
  readonly config: TagshipConfig;
  readonly version: string;
  readonly commit: string;
  readonly variant: VariantConfig;
  /** Commit time (epoch seconds): the image's creation time, so rebuilding gives the same digest. */
  readonly created?: number;
  readonly registryAuth?: Credentials;
  readonly buildahRoot?: string;
  readonly signal?: AbortSignal;
  readonly heartbeat?: (detail: string) => void;
}

export interface ImagePlan {
  readonly ref: string;
  readonly dockerfile: string;
  readonly context: string;
  readonly platforms: readonly string[];
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly created?: number;
}

/** What gets built: the versioned reference, build arguments and OCI labels. Pure, so testable. */
export function planImage(job: ImageJob): ImagePlan {
  const { config, version, variant } = job;
  const source = `https://github.com/${config.repository.owner}/${config.repository.name}`;
  return {
    ref: `${config.images.repository}:${versionedTag(version, variant.name)}`,
    dockerfile: join(job.sourceDir, config.images.dockerfile),
    context: join(job.sourceDir, config.images.context),
    platforms: config.images.platforms,
    buildArgs: {
      VERSION: version,
      VARIANT: variant.name,
      PACKAGES: variant.packages.map((p) => `${p}==${version}`).join(' '),
      INDEX_URL: config.index.simple_url,
    },
    labels: {
      'org.opencontainers.image.title': `${config.repository.name} (${variant.name})`,
      'org.opencontainers.image.version': version,
      'org.opencontainers.image.revision': job.commit,
      'org.opencontainers.image.source': source,
      ...(job.created !== undefined ? { 'org.opencontainers.image.created': new Date(job.created * 1000).toISOString() } : {}),
      'io.tagship.variant': variant.name,
      'io.tagship.packages': variant.packages.join(','),
    },
    ...(job.created !== undefined ? { created: job.created } : {}),
  };
}

function argPairs(flag: string, values: Readonly<Record<string, string>>): string[] {
  return Object.entries(values).flatMap(([k, v]) => [flag, `${k}=${v}`]);
}

/** `docker buildx build` pushing a multi-platform index; DOCKER_CONFIG carries the credentials. */
export function dockerBuildxArgs(plan: ImagePlan, metadataFile: string): string[] {
  return [
    'buildx', 'build',
    '--platform', plan.platforms.join(','),
    '--file', plan.dockerfile,
    '--tag', plan.ref,
    ...argPairs('--build-arg', plan.buildArgs),
    ...argPairs('--label', plan.labels),
    // SOURCE_DATE_EPOCH makes buildx's timestamps reproducible, so a retried push is a no-op.
    ...(plan.created !== undefined ? ['--build-arg', `SOURCE_DATE_EPOCH=${plan.created}`] : []),
    '--provenance=false',
    '--metadata-file', metadataFile,
    '--push',
    '--',
    plan.context,
  ];
}

function buildahGlobal(root: string): string[] {
  return ['--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs'];
}

/** One platform per build: buildah adds each to the manifest list in the config's order, so the
 * index (and its digest) is the same on every rebuild; one multi-platform build orders by finish. */
export function buildahBuildArgs(plan: ImagePlan, root: string, manifest: string, platform: string): string[] {
  return [
    ...buildahGlobal(root), 'build', '--quiet',
    '--platform', platform,
    '--manifest', manifest,
    '--file', plan.dockerfile,
    ...argPairs('--build-arg', plan.buildArgs),
    ...argPairs('--label', plan.labels),
    ...(plan.created !== undefined ? ['--timestamp', String(plan.created)] : []),
    '--',
    plan.context,
  ];
}

export function buildahPushArgs(plan: ImagePlan, root: string, manifest: string, opts: { insecure: boolean; authFile?: string }): string[] {
  return [
    ...buildahGlobal(root), 'manifest', 'push', '--all', '--format', 'oci', '--quiet',
    ...(opts.insecure ? ['--tls-verify=false'] : []),
    ...(opts.authFile ? ['--authfile', opts.authFile] : []),
    manifest,
    `docker://${plan.ref}`,
  ];
}

/** A docker-style config.json with one registry's credentials, in a private temp dir. */
async function writeAuthConfig(registry: string, auth: Credentials | undefined): Promise<{ dir: string; file: string } | undefined> {
  if (!auth) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'tagship-auth-'));
  const file = join(dir, 'config.json');
  const encoded = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
  await writeFile(file, JSON.stringify({ auths: { [registry]: { auth: encoded } } }), { mode: 0o600 });
  return { dir, file };
}

const REFUSED = /\b(401|403|unauthorized|denied|forbidden|authentication required|unsupported|method not allowed)\b/i;

function lastLines(text: string, n = 12): string {
  return text.split('\n').filter(Boolean).slice(-n).join('\n');
}

async function run(file: string, args: string[], job: ImageJob, what: string, env?: Record<string, string>): Promise<void> {
  const result = await execa(file, args, {
    reject: false,
    stdin: 'ignore',
    all: true,
    ...(env ? { env } : {}),
    ...(job.signal ? { cancelSignal: job.signal } : {}),
  });
  if (result.isCanceled) throw ApplicationFailure.retryable(`${what} cancelled`, 'Cancelled');
  if (result.exitCode !== 0) {
    const output = lastLines(String(result.all ?? ''));
    if (what.startsWith('push') && REFUSED.test(output)) {
      throw ApplicationFailure.nonRetryable(`the registry refused the ${what}:\n${output}`, 'ImagePushRefused');
    }
    throw ApplicationFailure.retryable(`${what} failed (exit ${result.exitCode}):\n${output}`, 'ImageBuildFailed');
  }
}

async function buildAndPush(job: ImageJob, plan: ImagePlan): Promise<void> {
  const { images } = job.config;
  const registry = parseImageRepository(images.repository).registry;
  const auth = await writeAuthConfig(registry, job.registryAuth);
  try {
    if (images.builder === 'docker') {
      const metadata = join(auth?.dir ?? (await mkdtemp(join(tmpdir(), 'tagship-buildx-'))), 'metadata.json');
      await run(tools.docker(), dockerBuildxArgs(plan, metadata), job, `push of ${plan.ref}`, auth ? { DOCKER_CONFIG: auth.dir } : undefined);
      return;
    }
    const root = job.buildahRoot ?? join(tmpdir(), 'tagship-buildah');
    // Unique per attempt: parallel variants and retried attempts never share a manifest list.
    const manifest = `tagship-${job.variant.name}-${job.version}-${randomBytes(4).toString('hex')}`;
    try {
      job.heartbeat?.(`building ${plan.ref} for ${plan.platforms.join(', ')}`);
      for (const platform of plan.platforms) {
        await run(tools.buildah(), buildahBuildArgs(plan, root, manifest, platform), job, `build of ${plan.ref} for ${platform}`);
      }
      job.heartbeat?.(`pushing ${plan.ref}`);
      await run(tools.buildah(), buildahPushArgs(plan, root, manifest, { insecure: images.insecure, ...(auth ? { authFile: auth.file } : {}) }), job, `push of ${plan.ref}`);
    } finally {
      await execa(tools.buildah(), [...buildahGlobal(root), 'manifest', 'rm', manifest], { reject: false, stdin: 'ignore' });
    }
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
    throw ApplicationFailure.nonRetryable(`${images.dockerfile} not found at commit ${job.commit.slice(0, 12)} (images.dockerfile in tagship.toml)`, 'DockerfileMissing');
  }
  return withRegistryFailures(async () => {
    await buildAndPush(job, plan);
    job.heartbeat?.(`verifying ${plan.ref}`);
    const client = registryFor(images, job.registryAuth, job.signal);
    const tag = versionedTag(job.version, job.variant.name);
    const pushed = await client.getManifest(tag);
    if (!pushed) throw ApplicationFailure.retryable(`${plan.ref} is not in the registry after the push`, 'ImageNotFound');
    if (!(INDEX_MEDIA_TYPES as readonly string[]).includes(pushed.mediaType)) {
      throw ApplicationFailure.nonRetryable(`${plan.ref} is a single-platform ${pushed.mediaType}, expected a multi-platform index`, 'ImageIncomplete');
    }
    const platforms = (pushed.json.manifests ?? []).map(platformOf);
    const missing = images.platforms.filter((p) => !platforms.includes(p));
    if (missing.length > 0) {
      throw ApplicationFailure.nonRetryable(`${plan.ref} lacks platform(s) ${missing.join(', ')}; it has ${platforms.join(', ') || 'none'}`, 'ImageIncomplete');
    }
    // Decide after our push, so a newer release that finished meanwhile is seen.
    const latest = decideLatest(await client.listTags(), job.variant.name, job.version);
    const tags = [plan.ref];
    if (latest.moved) {
      await client.putManifest(latestTag(job.variant.name), pushed);
      const readBack = await client.getManifest(latestTag(job.variant.name));
      if (readBack?.digest !== pushed.digest) {
        throw ApplicationFailure.retryable(`${latestTag(job.variant.name)} reads back as ${readBack?.digest ?? 'missing'}, expected ${pushed.digest}`, 'LatestMismatch');
      }
      tags.push(`${images.repository}:${latestTag(job.variant.name)}`);
    }
    return { variant: job.variant.name, tags, digest: pushed.digest, platforms: [...platforms].sort(), latest };
  });
}
