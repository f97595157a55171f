// Plans each activity's input from the release's config snapshot: the sections that step reads,
// with `packages` and `variants` cut down to the step's own. Pure and workflow-safe (the release
// workflow calls it), so it imports nothing but types. A snapshot recorded by an older tagship may
// lack sections added since; slices keep what it has and the activities fill in the defaults
// (src/config/upgrade.ts).
import type {
  BuildConfig,
  GitHubReleaseConfig,
  ImageConfig,
  PreflightConfig,
  PublishConfig,
  RetagConfig,
  RunningReleasesConfig,
  TagConfig,
  ValidateConfig,
  VisibleConfig,
} from '../contract/activities';
import type { TagshipConfig } from './schema';

type Snapshot = Pick<TagshipConfig, 'repository' | 'packages' | 'variants' | 'images' | 'index'> & {
  readonly github_release?: TagshipConfig['github_release'];
};

const simpleIndex = (c: Snapshot) => ({ simple_url: c.index.simple_url });

export function validateSlice(c: Snapshot): ValidateConfig {
  return { repository: c.repository, packages: c.packages, ...(c.github_release ? { github_release: { enabled: c.github_release.enabled } } : {}) };
}

export function preflightSlice(c: Snapshot): PreflightConfig {
  return {
    repository: c.repository,
    index: c.index,
    images: c.images,
    variants: c.variants,
    ...(c.github_release ? { github_release: { enabled: c.github_release.enabled, api_url: c.github_release.api_url } } : {}),
  };
}

export function buildSlice(c: Snapshot, pkg: string): BuildConfig {
  return { repository: c.repository, packages: c.packages.filter((p) => p.name === pkg), index: simpleIndex(c) };
}

export function publishSlice(c: Snapshot): PublishConfig {
  return { index: c.index };
}

export function visibleSlice(c: Snapshot): VisibleConfig {
  return { index: simpleIndex(c) };
}

export function imageSlice(c: Snapshot, variant: string): ImageConfig {
  const variants = c.variants.filter((v) => v.name === variant);
  const installed = new Set(variants.flatMap((v) => v.packages));
  return { repository: c.repository, packages: c.packages.filter((p) => installed.has(p.name)), variants, images: c.images, index: simpleIndex(c) };
}

export function githubReleaseSlice(c: Snapshot & Pick<TagshipConfig, 'github_release'>): GitHubReleaseConfig {
  return { repository: c.repository, github_release: c.github_release };
}

export function retagSlice(c: Snapshot, variant: string): RetagConfig {
  return { images: c.images, variants: c.variants.filter((v) => v.name === variant) };
}

export function runningReleasesSlice(c: Pick<TagshipConfig, 'repository'>): RunningReleasesConfig {
  return { repository: c.repository };
}

export function tagSlice(c: Pick<TagshipConfig, 'repository' | 'packages'>): TagConfig {
  return { repository: c.repository, packages: c.packages };
}
