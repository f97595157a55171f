// What the activities depend on that a release's config does not say: where this worker keeps
// checkouts and artifacts, and the credentials it uploads and pushes with (read from the
// environment by worker/settings.ts, so secrets never pass through argv or workflow history).
import type { KeyRing } from '../../src/codec/encryption-codec';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface WorkerSettings {
  /** Checkouts and builder storage; local to this worker. */
  readonly workDir: string;
  /** Built distributions, content-addressed; share it between workers (a volume) so any worker can publish. */
  readonly artifactDir: string;
  readonly index?: Credentials;
  readonly registry?: Credentials;
  /** Payload encryption keys; set in production so forwarded tokens are never plain in history. */
  readonly codec?: KeyRing;
  /** How many image builds this worker runs at once (TAGSHIP_IMAGE_BUILDS); others wait for a slot. */
  readonly imageBuilds?: number;
  /** Creates and updates the GitHub Release of a tag (TAGSHIP_GITHUB_TOKEN); needs `contents: write`. */
  readonly githubToken?: string;
}

export const DEFAULT_IMAGE_BUILDS = 2;
