// What one variant's image build is, as plain data: the reference it is pushed to, the build
// arguments a Dockerfile sees, the OCI labels, the platforms and the smoke command. Pure but for
// resolving the Dockerfile and context through symlinks, so both builders' command lines and the
// tests share one plan.
import { pathInCheckout } from './checkout-paths';
import type { VariantConfig } from '../../src/config/schema';
import type { ImageConfig } from '../../src/contract/activities';
import { immutableTags } from './image-tags';
import { repositorySlug } from '../../src/contract/workflow-ids';

/** What the image's labels say about the project, read from the variant's first package. */
export interface ProjectMetadata {
  readonly description?: string;
  readonly licenses?: string;
}

export interface ImagePlanInput {
  readonly sourceDir: string;
  readonly config: ImageConfig;
  readonly version: string;
  readonly commit: string;
  readonly variant: VariantConfig;
  /** Commit time (epoch seconds): the image's creation time, so rebuilding gives the same digest. */
  readonly created?: number;
  readonly metadata?: ProjectMetadata;
}

export interface ImagePlan {
  /** The first immutable reference, e.g. "ghcr.io/o/r:1.0.18-core": what is built and pushed. */
  readonly ref: string;
  /** Every immutable tag ({version} templates), the first being `ref`'s. */
  readonly tags: readonly string[];
  readonly dockerfile: string;
  readonly context: string;
  readonly platforms: readonly string[];
  readonly buildArgs: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  /** Run in every built image before anything is pushed; empty: no smoke test. */
  readonly smoke: readonly string[];
  readonly created?: number;
}

/**
 * The build arguments: `PACKAGES` holds names only and `REQUIREMENTS` pins them, so the seed's
 * Dockerfile (`for p in $PACKAGES; do uv add "$p==$VERSION"; done`) works unchanged and a
 * Dockerfile that wants pins can `pip install $REQUIREMENTS`.
 */
export function buildArgs(config: ImageConfig, variant: VariantConfig, version: string): Record<string, string> {
  return {
    ...config.images.build_args,
    VERSION: version,
    VARIANT: variant.name,
    PACKAGES: variant.packages.join(' '),
    REQUIREMENTS: variant.packages.map((p) => `${p}==${version}`).join(' '),
    INDEX_URL: config.index.simple_url,
  };
}

/** The labels docker/metadata-action sets, plus tagship's own. */
export function imageLabels(input: ImagePlanInput): Record<string, string> {
  const { config, version, variant, metadata } = input;
  const source = `https://github.com/${repositorySlug(config)}`;
  return {
    'org.opencontainers.image.title': config.repository.name,
    ...(metadata?.description ? { 'org.opencontainers.image.description': metadata.description } : {}),
    'org.opencontainers.image.url': source,
    'org.opencontainers.image.source': source,
    'org.opencontainers.image.version': version,
    ...(input.created !== undefined ? { 'org.opencontainers.image.created': new Date(input.created * 1000).toISOString() } : {}),
    'org.opencontainers.image.revision': input.commit,
    ...(metadata?.licenses ? { 'org.opencontainers.image.licenses': metadata.licenses } : {}),
    'io.tagship.variant': variant.name,
    'io.tagship.packages': variant.packages.join(','),
  };
}

/** `--build-arg K=V` / `--label K=V` pairs, as both builders take them. */
export function argPairs(flag: string, values: Readonly<Record<string, string>>): string[] {
  return Object.entries(values).flatMap(([k, v]) => [flag, `${k}=${v}`]);
}

export function planImage(input: ImagePlanInput): ImagePlan {
  const { config, version, variant } = input;
  const tags = immutableTags(config, variant.name, version).map((t) => `${config.images.repository}:${t}`);
  return {
    ref: tags[0]!,
    tags,
    // A context or Dockerfile linked out of the repository would copy the worker's files into the image.
    dockerfile: pathInCheckout(input.sourceDir, config.images.dockerfile, 'images.dockerfile'),
    context: pathInCheckout(input.sourceDir, config.images.context, 'images.context'),
    platforms: config.images.platforms,
    buildArgs: buildArgs(config, variant, version),
    labels: imageLabels(input),
    smoke: variant.smoke ?? config.images.smoke ?? [],
    ...(input.created !== undefined ? { created: input.created } : {}),
  };
}
