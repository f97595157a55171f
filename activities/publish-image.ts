// The image step of a release: check out the validated commit, then build, push, verify and tag
// one variant (image-build.ts). The wheels the image must contain are the ones the index lists for
// the version: their bytes come from the artifact store, or from the index when this worker's
// store lacks them, and are checked against the index's sha256 either way.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import TOML from '@iarna/toml';
import type { PublishedImage } from '../src/contract/release';
import type { WorkerSettings } from './lib/settings';
import { artifactPath, sha256File } from './lib/artifact-store';
import { distributionStem } from './build-package';
import type { BuildSlots } from './lib/build-slots';
import { commitTime, ensureCheckout } from './lib/git-checkout';
import { publishVariantImage } from './lib/image-build';
import { throwIfCancelled } from './lib/child-process';
import { heartbeat } from './lib/heartbeat';
import type { ExpectedPackage, PublishedWheel } from './lib/image-contents';
import type { ProjectMetadata } from './lib/image-plan';
import { repoRef } from './lib/repo-ref';
import { downloadIndexFile, listProjectFiles } from './lib/simple-index';
import type { ImageConfig, PublishImageInput } from '../src/contract/activities';
import { failure } from '../src/contract/failures';

/** description and license of a package's pyproject.toml, for the image's OCI labels. */
export async function projectMetadata(pyprojectFile: string): Promise<ProjectMetadata> {
  try {
    const project = (TOML.parse(await readFile(pyprojectFile, 'utf8')).project ?? {}) as {
      description?: unknown;
      license?: unknown;
      'license-expression'?: unknown;
    };
    const license = project.license;
    const licenses =
      typeof license === 'string'
        ? license
        : typeof license === 'object' && license !== null && typeof (license as { text?: unknown }).text === 'string'
          ? (license as { text: string }).text
          : undefined;
    return {
      ...(typeof project.description === 'string' ? { description: project.description } : {}),
      ...(licenses ? { licenses: licenses.split('\n')[0]!.trim() } : {}),
    };
  } catch {
    // Labels are informative; validate has already read these files.
    return {};
  }
}

/** A wheel of `pkg` at `version`, by the naming rule the build step checks its own wheels with. */
function isWheelOf(filename: string, pkg: string, version: string): boolean {
  return filename.endsWith('.whl') && filename.startsWith(`${distributionStem(pkg)}-${version}-`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The wheel's bytes on this worker: the artifact store's copy, else downloaded from the index into the cache. */
async function localWheel(settings: WorkerSettings, file: { filename: string; sha256: string; url?: string }, signal: AbortSignal): Promise<string> {
  const stored = artifactPath(settings.artifactDir, file.sha256);
  if ((await exists(stored)) && (await sha256File(stored)) === file.sha256) return stored;
  const cached = join(settings.workDir, 'wheels', file.sha256, file.filename);
  if ((await exists(cached)) && (await sha256File(cached)) === file.sha256) return cached;
  await mkdir(join(cached, '..'), { recursive: true });
  try {
    await downloadIndexFile(file, cached, signal);
  } catch (err) {
    // A cancelled step's aborted download is its cancellation, not an unavailable wheel.
    throwIfCancelled(signal);
    throw failure('WheelUnavailable', (err as Error).message);
  }
  return cached;
}

async function expectedPackages(
  settings: WorkerSettings,
  config: ImageConfig,
  packages: readonly string[],
  version: string,
  signal: AbortSignal,
): Promise<ExpectedPackage[]> {
  return Promise.all(
    packages.map(async (name) => {
      const listed = (await listProjectFiles(config.index.simple_url, name, signal)).filter((f) => isWheelOf(f.filename, name, version));
      const wheels: PublishedWheel[] = [];
      for (const f of listed) {
        if (!f.sha256) continue;
        wheels.push({
          filename: f.filename,
          sha256: f.sha256,
          path: await localWheel(settings, { filename: f.filename, sha256: f.sha256, ...(f.url ? { url: f.url } : {}) }, signal),
        });
      }
      if (wheels.length === 0) {
        throw failure(
          'WheelUnavailable',
          `the index at ${config.index.simple_url} lists no wheel of ${name} ${version} with a sha256; cannot prove what the image contains`,
        );
      }
      return { name, version, wheels };
    }),
  );
}

export async function publishImage(settings: WorkerSettings, slots: BuildSlots, input: PublishImageInput): Promise<PublishedImage> {
  const { config } = input;
  const variant = config.variants.find((v) => v.name === input.variant);
  if (!variant) throw failure('UnknownVariant', `variant ${input.variant} is not in the configuration`);
  const ctx = Context.current();
  const sourceDir = await ensureCheckout(settings.workDir, repoRef(config), input.tag, input.commit);
  const first = config.packages.find((p) => p.name === variant.packages[0]);
  return publishVariantImage({
    sourceDir,
    config,
    version: input.version,
    commit: input.commit,
    variant,
    created: await commitTime(sourceDir),
    metadata: first ? await projectMetadata(join(sourceDir, first.path, 'pyproject.toml')) : {},
    ...(settings.registry ? { registryAuth: settings.registry } : {}),
    buildahRoot: join(settings.workDir, 'buildah'),
    slots,
    expected: () => expectedPackages(settings, config, variant.packages, input.version, ctx.cancellationSignal),
    scanCacheDir: join(settings.workDir, 'layer-scans'),
    signal: ctx.cancellationSignal,
    heartbeat: (detail: string) => heartbeat(detail),
  });
}
