// Every failure type a tagship step can end with, and the one rule that decides what happens next:
// retryable ones are retried with backoff (then wait for an operator), the others wait for an
// operator at once, and a few stop the release or wait for a fresh token. The type names appear in
// histories, the UI and the CLI; they never change. Workflow-safe.
import { ApplicationFailure, type RetryPolicy } from '@temporalio/common';

interface FailureRule {
  /** Another attempt may succeed (network, a registry or index having a bad minute). */
  readonly retryable: boolean;
  /** What it means, for the catalogue in docs and for readers of this file. */
  readonly means: string;
}

export const FAILURES = {
  // validate and tag
  InvalidTag: { retryable: false, means: 'the tag is not v<major>.<minor>.<patch>, or does not name the release version' },
  InvalidVersion: { retryable: false, means: 'a version is not X.Y.Z (PEP 440)' },
  InvalidRef: { retryable: false, means: 'not a branch name or a full commit id' },
  InvalidCommit: { retryable: false, means: 'not a full commit id' },
  VersionMismatch: { retryable: false, means: "the packages' versions disagree with each other or with the tag" },
  VersionMissing: { retryable: false, means: 'no package has a static version to tag' },
  TagNotFound: { retryable: false, means: 'the tag is not in the repository' },
  TagMoved: { retryable: false, means: 'the tag points at another commit than the release validated' },
  TagExists: { retryable: false, means: 'the tag already exists at another commit' },
  RefNotFound: { retryable: false, means: 'the branch or commit is not in the repository' },
  RefMoved: { retryable: false, means: 'the branch moved past the commit the requester ran on' },
  RepositoryNotFound: { retryable: false, means: 'the repository URL is not a git repository' },
  GitHubTokenMissing: { retryable: false, means: 'the GitHub Release is on but the worker has no token' },
  ConfigError: { retryable: false, means: "the release's recorded configuration no longer parses" },
  UnknownPackage: { retryable: false, means: 'the package is not in the configuration' },
  UnknownVariant: { retryable: false, means: 'the variant is not in the configuration' },
  PathOutsideCheckout: { retryable: false, means: 'a package directory, image context or Dockerfile resolves (through a symlink) outside the checkout' },
  // preflight: checked before anything irreversible, so nothing is uploaded when one fails
  PreflightFailed: { retryable: false, means: 'a destination refused what the release will need (push permission, upload auth, GitHub token)' },
  PreflightUnreachable: { retryable: true, means: 'a destination could not be reached to check it' },
  // build
  BuildFailed: { retryable: false, means: 'uv build exited non-zero' },
  BuildOutputMismatch: { retryable: false, means: 'the build produced unexpected or unreadable files' },
  MetadataInvalid: { retryable: false, means: "the distributions' metadata does not pass twine check" },
  IndexFileConflict: { retryable: false, means: 'the index holds a file of this name with other contents' },
  ArtifactCorrupt: { retryable: false, means: 'a stored artifact no longer has its sha256' },
  ArtifactMissing: { retryable: false, means: 'a built file is not in the artifact store this worker reads' },
  // publish
  OidcTokenUnavailable: { retryable: false, means: 'no OIDC token from CI; the step waits for one' },
  OidcTokenExpired: { retryable: false, means: "CI's OIDC token expired; the step waits for a fresh one" },
  OidcTokenTimeout: { retryable: false, means: 'no fresh OIDC token arrived in time' },
  TrustedPublishingUnreachable: { retryable: true, means: "PyPI's OIDC endpoints cannot be reached" },
  TrustedPublishingUnavailable: { retryable: true, means: "PyPI's OIDC endpoints answered with a server error" },
  TrustedPublishingRefused: { retryable: false, means: 'PyPI refused the token exchange (no trusted publisher, wrong claims)' },
  IndexCredentialsMissing: { retryable: false, means: 'index.auth = "token" but the worker has no index credentials' },
  IndexAuthRejected: { retryable: false, means: 'the index refused the credentials (401/403)' },
  IndexRejected: { retryable: false, means: 'the index refused the upload' },
  IndexRefused: { retryable: false, means: 'the index refused a read (4xx)' },
  // images
  WheelUnavailable: { retryable: true, means: 'the published wheel cannot be read from the index yet' },
  DockerfileMissing: { retryable: false, means: 'images.dockerfile is not at the release commit' },
  DockerfileInvalid: { retryable: false, means: 'the Dockerfile does not parse' },
  DockerfileMissingFile: { retryable: false, means: 'a file the Dockerfile copies is not in the build context' },
  ImageRunFailed: { retryable: false, means: 'a RUN step failed twice with the same output' },
  ImageBuildFailed: { retryable: true, means: 'the builder failed (network, registry or builder error)' },
  ImagePushRefused: { retryable: false, means: 'the registry refused the push' },
  ImageNotFound: { retryable: true, means: 'a pushed image is not (yet) in the registry' },
  ImageIncomplete: { retryable: false, means: 'the pushed image lacks a platform, or is not multi-platform' },
  ImageSmokeFailed: { retryable: false, means: 'the smoke command failed in a built image' },
  ImageContentMismatch: { retryable: false, means: 'the image does not contain the published wheels' },
  ImageLayerUnreadable: { retryable: false, means: 'an image layer is not a readable tar' },
  LatestMismatch: { retryable: true, means: 'a moving tag points elsewhere than it was just moved to' },
  RegistryError: { retryable: true, means: 'the registry had a network or server error' },
  RegistryRefused: { retryable: false, means: 'the registry refused a request (4xx)' },
  // GitHub Release
  GitHubRejected: { retryable: false, means: 'GitHub refused the release or an asset' },
  GitHubAuthRejected: { retryable: false, means: 'GitHub refused TAGSHIP_GITHUB_TOKEN' },
  GitHubRepositoryNotFound: { retryable: false, means: 'GitHub has no such repository, or the token cannot see it' },
  // the release itself
  Aborted: { retryable: false, means: 'an operator aborted the release' },
  OperatorWaitExpired: { retryable: false, means: 'a step waited for an operator longer than timeouts.operator_wait' },
} as const satisfies Record<string, FailureRule>;

export type FailureType = keyof typeof FAILURES;

/** Failure types carrying details beyond the message (e.g. PyPI's error codes). */
export function failureWithDetails(type: FailureType, message: string, details: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: !FAILURES[type].retryable, details });
}

/** An activity's failure of a catalogued type, retryable as the catalogue says. */
export function failure(type: FailureType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: !FAILURES[type].retryable });
}

/** Throws `failure(type, message)`. */
export function fail(type: FailureType, message: string): never {
  throw failure(type, message);
}

/** A publish that fails with one of these waits for a fresh token instead of an operator. */
export const TOKEN_FAILURES: ReadonlySet<string> = new Set<FailureType>(['OidcTokenUnavailable', 'OidcTokenExpired']);

/** No operator decision can fix these: built metadata that contradicts the tag stops the release, as validate does. */
export const RELEASE_STOPPERS: ReadonlySet<string> = new Set<FailureType>(['VersionMismatch']);

/** The shared retry rule of every step: exponential backoff from 2 s, capped. */
export function retryPolicy(maximumAttempts: number, maximumInterval: RetryPolicy['maximumInterval'] = '1m'): RetryPolicy {
  return { initialInterval: '2s', backoffCoefficient: 2, maximumInterval, maximumAttempts };
}
