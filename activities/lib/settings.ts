// What the activities depend on that a release's config does not say: where this worker keeps
// checkouts and artifacts, and the credentials it uploads and pushes with (read from the
// environment by worker/settings.ts, so secrets never pass through argv or workflow history).
import { availableParallelism } from 'node:os';
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
  /** How much this worker takes on at once; unset limits take the defaults below. */
  readonly limits?: WorkerLimits;
  /** Creates and updates the GitHub Release of a tag (TAGSHIP_GITHUB_TOKEN); needs `contents: write`. */
  readonly githubToken?: string;
}

/**
 * A burst of releases on one worker runs every step it is handed at once unless these hold it back:
 * a hundred releases at once on 2 cores once drove the load average to 29. Steps over a limit
 * wait on the worker (heartbeating, so a cancel still reaches them), oldest first.
 */
export interface WorkerLimits {
  /** Package builds (uv build) at once (TAGSHIP_BUILDS, --builds); default: the number of CPUs. */
  readonly builds?: number;
  /** Image builds at once (TAGSHIP_IMAGE_BUILDS, --image-builds); default 2. */
  readonly imageBuilds?: number;
  /** Activities at once, of every kind (TAGSHIP_MAX_ACTIVITIES, --max-activities); default: the SDK's (100). */
  readonly activities?: number;
  /** Workflow tasks at once (TAGSHIP_MAX_WORKFLOW_TASKS, --max-workflow-tasks); default: the SDK's. */
  readonly workflowTasks?: number;
}

export const DEFAULT_IMAGE_BUILDS = 2;

/** One package build per CPU: uv build is CPU-bound, more at once only queue on the cores. */
export function defaultBuilds(): number {
  return availableParallelism();
}
