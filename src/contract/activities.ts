// What crosses the workflow/activity boundary: each activity's input and result, and the
// interface the worker's activities implement. Inputs carry the slice of the release's config
// snapshot the activity needs (planned by src/config/plan.ts), never the whole of it; a full
// snapshot from a release recorded before the slices is still a valid slice. Plain data only: no
// file bytes, logs or secrets, because all of it lands in workflow history.
import type { TagshipConfig } from '../config/schema';
import type { BuiltFile, BuiltPackage, PublishedImage, PublishedPackage, ReleaseStatus, StepState, ValidatedRelease, VisiblePackage } from './release';

type Config = TagshipConfig;

/** The config sections a step reads; `packages` and `variants` hold only the step's own. */
export type ValidateConfig = Pick<Config, 'repository' | 'packages'> & { readonly github_release?: { readonly enabled?: boolean } };
export type BuildConfig = Pick<Config, 'repository' | 'packages'> & { readonly index: Pick<Config['index'], 'simple_url'> };
export type PublishConfig = Pick<Config, 'index'>;
export type VisibleConfig = { readonly index: Pick<Config['index'], 'simple_url'> };
export type ImageConfig = Pick<Config, 'repository' | 'packages' | 'variants' | 'images'> & { readonly index: Pick<Config['index'], 'simple_url'> };
export type GitHubReleaseConfig = Pick<Config, 'repository' | 'github_release'>;
export type RetagConfig = Pick<Config, 'images' | 'variants'>;
export type TagConfig = Pick<Config, 'repository' | 'packages'>;
export type RunningReleasesConfig = Pick<Config, 'repository'>;
/** What preflight checks: every destination the release will write to, and the Dockerfile. */
export type PreflightConfig = Pick<Config, 'repository' | 'index' | 'images' | 'variants'> & {
  readonly github_release?: Pick<Config['github_release'], 'enabled' | 'api_url'>;
};

export interface RunningReleasesInput {
  readonly config: RunningReleasesConfig;
}

/** A release of the repository that is running now. */
export interface RunningRelease {
  readonly version: string;
  /** Its workflow id, e.g. "release/softoft-orga/open-ticket-ai/v1.0.19". */
  readonly workflowId: string;
  /** What its status query answered; absent when it could not be read. */
  readonly state?: ReleaseStatus['state'];
  /**
   * Its image steps that have neither succeeded nor been skipped, with their state: the variants
   * whose moving tags it may still move. Absent when its status could not be read, which counts as
   * every variant.
   */
  readonly pendingImages?: readonly { readonly variant: string; readonly state: StepState }[];
}

export interface ValidateInput {
  readonly config: ValidateConfig;
  readonly tag: string;
  /** A dry run has no GitHub Release step, so it needs no GitHub token. */
  readonly dryRun?: boolean;
}

export interface PreflightInput {
  readonly config: PreflightConfig;
  readonly tag: string;
  readonly commit: string;
  readonly version: string;
  /** CI's OIDC token, when it sent one: trusted publishing is checked against PyPI's audience endpoint. */
  readonly oidcToken?: string;
}

/** One destination checked before anything irreversible; a failing check fails the step instead. */
export interface PreflightCheck {
  /** "registry push", "index upload", "github release", "dockerfile". */
  readonly check: string;
  /** What was proven, e.g. "push to 127.0.0.1:5000/acme/core allowed". */
  readonly detail: string;
}

export interface PreflightResult {
  readonly checks: readonly PreflightCheck[];
}

export interface BuildPackageInput {
  readonly config: BuildConfig;
  readonly tag: string;
  readonly commit: string;
  readonly version: string;
  readonly package: string;
  /** Nothing will be uploaded: the index is not consulted about earlier uploads. */
  readonly dryRun?: boolean;
}

export interface PublishPackageInput {
  readonly config: PublishConfig;
  readonly package: string;
  readonly version: string;
  readonly files: readonly BuiltFile[];
  /** An OIDC ID token CI forwarded for trusted publishing (encrypted in history by the codec). */
  readonly oidcToken?: string;
}

export interface WaitVisibleInput {
  readonly config: VisibleConfig;
  readonly package: string;
  readonly files: readonly BuiltFile[];
  readonly pollIntervalMs?: number;
}

export interface PublishImageInput {
  readonly config: ImageConfig;
  readonly tag: string;
  readonly commit: string;
  readonly version: string;
  readonly variant: string;
}

export interface GitHubReleaseInput {
  readonly config: GitHubReleaseConfig;
  readonly tag: string;
  readonly version: string;
  readonly commit: string;
  readonly files: readonly { readonly filename: string; readonly sha256: string }[];
  readonly images: readonly {
    readonly variant: string;
    readonly tags: readonly string[];
    readonly digest: string;
    readonly platforms?: readonly { readonly platform: string; readonly digest: string }[];
  }[];
}

export interface GitHubReleaseResult {
  readonly id: number;
  readonly url: string;
  readonly created: boolean;
  readonly assetsUploaded: readonly string[];
  readonly assetsUnchanged: readonly string[];
}

export interface RetagLatestInput {
  readonly config: RetagConfig;
  readonly variant: string;
}

export interface RetaggedTag {
  readonly tag: string;
  readonly outcome: 'moved' | 'unchanged';
  readonly version: string;
  readonly digest: string;
  readonly reason: string;
}

export interface RetagLatestResult {
  readonly variant: string;
  /** "moved" when any tag moved. */
  readonly outcome: 'moved' | 'unchanged' | 'none';
  /** The newest stable version of the variant, where `{variant}-latest`-style tags point. */
  readonly version?: string;
  readonly digest?: string;
  readonly reason: string;
  /** Absent in results recorded before tag families, which re-pointed only `<variant>-latest`. */
  readonly tags?: readonly RetaggedTag[];
}

export interface TagReleaseInput {
  readonly config: TagConfig;
  /** A branch ("main", "refs/heads/release/1.2") or a full commit id. */
  readonly ref: string;
  /** Required only when every package takes its version from the tag; otherwise it must agree with theirs. */
  readonly version?: string;
  /**
   * The commit the requester ran on (a CI job's `sha` claim): the branch must still point there,
   * so a commit merged after the job started is never tagged with the job's credentials.
   */
  readonly expectedCommit?: string;
}

export interface TaggedRelease {
  readonly tag: string;
  readonly version: string;
  readonly commit: string;
  /** False when the tag already pointed at this commit (a repeated request). */
  readonly created: boolean;
}

/**
 * The worker's activities. The keys are the activity type names recorded in every history; they
 * never change.
 */
export interface ReleaseActivities {
  validateRelease(input: ValidateInput): Promise<ValidatedRelease>;
  preflightRelease(input: PreflightInput): Promise<PreflightResult>;
  buildPackage(input: BuildPackageInput): Promise<BuiltPackage>;
  publishPackage(input: PublishPackageInput): Promise<PublishedPackage>;
  waitUntilVisible(input: WaitVisibleInput): Promise<VisiblePackage>;
  publishImage(input: PublishImageInput): Promise<PublishedImage>;
  publishGitHubRelease(input: GitHubReleaseInput): Promise<GitHubReleaseResult>;
  retagLatest(input: RetagLatestInput): Promise<RetagLatestResult>;
  /** Recorded by schedules started before per-variant skipping; kept so they replay. */
  runningReleaseVersions(input: RunningReleasesInput): Promise<string[]>;
  runningReleases(input: RunningReleasesInput): Promise<RunningRelease[]>;
  tagRelease(input: TagReleaseInput): Promise<TaggedRelease>;
}
