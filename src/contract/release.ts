// Plain data that crosses the workflow/activity boundary. Kept small on purpose: names, hashes and
// digests only; never file bytes, logs or secrets, because all of it lands in workflow history.
import type { TagshipConfig } from '../config/schema';
import type { RetagLatestResult } from './activities';

/** The config snapshot a release runs with, taken when it started; recorded in its history. */
export type ReleaseConfig = TagshipConfig;

export interface ReleaseInput {
  readonly config: ReleaseConfig;
  /** The pushed tag, e.g. "v1.0.18". */
  readonly tag: string;
  /** Validate and build only: nothing is uploaded or pushed. */
  readonly dryRun?: boolean;
}

/** What the tagRef workflow is started with: a branch or commit to tag, and the config snapshot. */
export interface TagRefInput {
  readonly config: TagshipConfig;
  /** A branch ("main", "refs/heads/release/1.2") or a full commit id. */
  readonly ref: string;
  /** Required only when every package takes its version from the tag; otherwise it must agree with theirs. */
  readonly version?: string;
  /** The commit the requester ran on (a CI job's `sha` claim): the branch must still point there. */
  readonly expectedCommit?: string;
}

export interface ValidatedRelease {
  readonly version: string;
  /** Full commit id the tag points at; every later step works from exactly this commit. */
  readonly commit: string;
  readonly packages: readonly { readonly name: string; readonly version: string }[];
}

/** What CI's start-and-wait answers once validate and preflight passed. */
export interface ReleaseUnderWay {
  readonly tag: string;
  readonly version: string;
  readonly commit: string;
  /** What preflight proved, one line per destination (none for a dry run). */
  readonly checks: readonly string[];
}

export interface BuiltFile {
  readonly filename: string;
  readonly kind: 'sdist' | 'wheel';
  readonly size: number;
  readonly sha256: string;
}

export interface BuiltPackage {
  readonly package: string;
  readonly version: string;
  readonly files: readonly BuiltFile[];
  /** Set when these files were built by an earlier run of the same commit (ISO time of that build) and reused. */
  readonly reusedFrom?: string;
  /** Files whose bytes were taken from the index: an earlier run uploaded them, and they differ from this build only in archive metadata. */
  readonly adopted?: readonly string[];
}

export interface PublishedPackage {
  readonly package: string;
  readonly uploaded: readonly string[];
  /** Files the index already had with the same sha256 (a retried or repeated release). */
  readonly alreadyPresent: readonly string[];
}

export interface VisiblePackage {
  readonly package: string;
  readonly polls: number;
}

/** What happened to one moving tag (a template without {version}, e.g. `{variant}-latest` or `{major}.{minor}`). */
export interface MovingTagDecision {
  /** The tag, e.g. "core-latest" or "1.0". */
  readonly tag: string;
  readonly moved: boolean;
  readonly reason: string;
}

/** A package found in an image, proven to be the published wheel's files. */
export interface VerifiedPackage {
  readonly name: string;
  readonly version: string;
  /** The published wheel whose RECORD the installed files match. */
  readonly wheel: string;
}

export interface VerifiedPlatform {
  readonly platform: string;
  /** Digest of that platform's image manifest. */
  readonly digest: string;
  readonly packages: readonly VerifiedPackage[];
}

export interface PublishedImage {
  readonly variant: string;
  /** Full references pushed, e.g. "ghcr.io/o/r:1.0.18-core". */
  readonly tags: readonly string[];
  /** Digest of the multi-platform index as read back from the registry. */
  readonly digest: string;
  readonly platforms: readonly string[];
  /** Why `<variant>-latest` was or was not moved (the first moving tag; kept for older readers). */
  readonly latest: { readonly moved: boolean; readonly reason: string };
  /** Every moving tag of the variant and whether it moved. Absent in releases recorded before tag families. */
  readonly moving?: readonly MovingTagDecision[];
  /** Per platform, the packages proven to be installed from the published wheels. */
  readonly verified?: readonly VerifiedPlatform[];
  /** Per platform, how long its build and smoke test took (ms); a builder that builds all at once reports none. */
  readonly buildMs?: Readonly<Record<string, number>>;
}

export interface ReleaseSummary {
  readonly repository: string;
  readonly tag: string;
  readonly version: string;
  readonly commit: string;
  readonly dryRun: boolean;
  readonly packages: readonly (BuiltPackage & { readonly uploaded: readonly string[]; readonly alreadyPresent: readonly string[] })[];
  readonly images: readonly PublishedImage[];
  /** The GitHub Release created or updated for the tag (absent when off, skipped, or recorded before it existed). */
  readonly githubRelease?: { readonly id: number; readonly url: string };
}

export type StepState = 'pending' | 'running' | 'retrying' | 'waiting-for-operator' | 'succeeded' | 'skipped' | 'failed';

export interface StepStatus {
  /** "validate", "build:<pkg>", "publish:<pkg>", "visible:<pkg>", "image:<variant>", "finish". */
  readonly step: string;
  readonly state: StepState;
  /** Why it is waiting, skipped or failed (never a secret: failure messages are already redacted). */
  readonly note?: string;
}

/** What the `status` query answers. */
export interface ReleaseStatus {
  readonly tag: string;
  readonly version?: string;
  readonly state: 'running' | 'waiting-for-operator' | 'succeeded' | 'failed';
  readonly steps: readonly StepStatus[];
}

/** What the scheduled re-publish of moving tags is started with: the config the schedule was applied with. */
export interface RepublishLatestInput {
  readonly config: TagshipConfig;
}

/** A variant the re-publish left alone, and the running release that moves its tags instead. */
export interface SkippedVariant {
  readonly variant: string;
  readonly release: string;
  readonly reason: string;
}

export interface RepublishLatestSummary {
  readonly skipped?: string;
  readonly variants: readonly RetagLatestResult[];
  /** Absent in runs recorded before per-variant skipping. */
  readonly skippedVariants?: readonly SkippedVariant[];
}
