// The worker's settings from its environment (and `tagship worker`'s flags for the limits): paths
// under TAGSHIP_HOME, credentials from TAGSHIP_*_TOKEN or _USERNAME/_PASSWORD, payload keys, and
// how much the worker takes on at once.
import { resolve } from 'node:path';
import { DEFAULT_IMAGE_BUILDS, defaultBuilds, type Credentials, type WorkerLimits, type WorkerSettings } from '../activities/lib/settings';
import { keyRingFromEnv } from '../src/codec/encryption-codec';

/** A setting the worker cannot start with; `tagship worker` exits 2 with the message. */
export class WorkerSettingsError extends Error {
  override name = 'WorkerSettingsError';
}

/** The limits as `tagship worker` takes them on its command line; a flag wins over its variable. */
export interface LimitFlags {
  readonly builds?: string;
  readonly imageBuilds?: string;
  readonly maxActivities?: string;
  readonly maxWorkflowTasks?: string;
}

interface Limit {
  readonly env: string;
  readonly flag: string;
  readonly means: string;
  /** The SDK caches workflows only with 2 or more workflow task slots. */
  readonly min: 1 | 2;
}

const LIMITS = {
  builds: { env: 'TAGSHIP_BUILDS', flag: '--builds', means: 'how many uv builds this worker runs at once', min: 1 },
  imageBuilds: { env: 'TAGSHIP_IMAGE_BUILDS', flag: '--image-builds', means: 'how many image builds this worker runs at once', min: 1 },
  activities: { env: 'TAGSHIP_MAX_ACTIVITIES', flag: '--max-activities', means: 'how many activities this worker runs at once', min: 1 },
  workflowTasks: {
    env: 'TAGSHIP_MAX_WORKFLOW_TASKS',
    flag: '--max-workflow-tasks',
    means: 'how many workflow tasks this worker runs at once; the SDK needs 2 to keep workflows cached',
    min: 2,
  },
} as const satisfies Record<keyof WorkerLimits, Limit>;

const FLAG_OF: Record<keyof WorkerLimits, keyof LimitFlags> = {
  builds: 'builds',
  imageBuilds: 'imageBuilds',
  activities: 'maxActivities',
  workflowTasks: 'maxWorkflowTasks',
};

function limit(key: keyof WorkerLimits, env: NodeJS.ProcessEnv, flags: LimitFlags): number | undefined {
  const spec: Limit = LIMITS[key];
  const fromFlag = flags[FLAG_OF[key]];
  const [source, raw] = fromFlag !== undefined ? [spec.flag, fromFlag] : [spec.env, env[spec.env]];
  if (raw === undefined || raw === '') return undefined;
  const n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= spec.min)) throw new WorkerSettingsError(`${source}=${raw} must be a whole number from ${spec.min} to 9999 (${spec.means})`);
  return n;
}

/**
 * The worker's limits: package and image builds default to the number of CPUs and 2; activities
 * and workflow tasks at once are left to the SDK unless set.
 */
export function limitsFrom(env: NodeJS.ProcessEnv = process.env, flags: LimitFlags = {}): WorkerLimits {
  const activities = limit('activities', env, flags);
  const workflowTasks = limit('workflowTasks', env, flags);
  return {
    builds: limit('builds', env, flags) ?? defaultBuilds(),
    imageBuilds: limit('imageBuilds', env, flags) ?? DEFAULT_IMAGE_BUILDS,
    ...(activities !== undefined ? { activities } : {}),
    ...(workflowTasks !== undefined ? { workflowTasks } : {}),
  };
}

function credentials(env: NodeJS.ProcessEnv, prefix: string): Credentials | undefined {
  const token = env[`${prefix}_TOKEN`];
  // PyPI and GHCR both take an API token as the password of a fixed user name.
  if (token) return { username: env[`${prefix}_USERNAME`] ?? '__token__', password: token };
  const username = env[`${prefix}_USERNAME`];
  const password = env[`${prefix}_PASSWORD`];
  if (username && password) return { username, password };
  if (username || password) {
    throw new WorkerSettingsError(`${prefix}_USERNAME and ${prefix}_PASSWORD must be set together`);
  }
  return undefined;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env, flags: LimitFlags = {}): WorkerSettings {
  const home = resolve(env.TAGSHIP_HOME ?? '.tagship');
  const index = credentials(env, 'TAGSHIP_INDEX');
  const registry = credentials(env, 'TAGSHIP_REGISTRY');
  const codec = keyRingFromEnv(env);
  const githubToken = env.TAGSHIP_GITHUB_TOKEN;
  return {
    workDir: resolve(env.TAGSHIP_WORK_DIR ?? `${home}/work`),
    artifactDir: resolve(env.TAGSHIP_ARTIFACT_DIR ?? `${home}/artifacts`),
    ...(index ? { index } : {}),
    ...(registry ? { registry } : {}),
    ...(codec ? { codec } : {}),
    limits: limitsFrom(env, flags),
    ...(githubToken ? { githubToken } : {}),
  };
}
