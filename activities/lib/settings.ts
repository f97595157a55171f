// What a worker process knows that a release's config does not: where it keeps checkouts and
// artifacts, and the credentials it uploads and pushes with. Read from the environment so secrets
// never pass through argv or workflow history.
import { resolve } from 'node:path';
import { keyRingFromEnv, type KeyRing } from '../../src/codec/encryption-codec';

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

function positiveInt(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[1-9]\d{0,3}$/.test(raw)) throw new Error(`${key}=${raw} must be a whole number from 1 to 9999`);
  return Number(raw);
}

export const DEFAULT_TASK_QUEUE = 'tagship';

function credentials(env: NodeJS.ProcessEnv, prefix: string): Credentials | undefined {
  const token = env[`${prefix}_TOKEN`];
  // PyPI and GHCR both take an API token as the password of a fixed user name.
  if (token) return { username: env[`${prefix}_USERNAME`] ?? '__token__', password: token };
  const username = env[`${prefix}_USERNAME`];
  const password = env[`${prefix}_PASSWORD`];
  if (username && password) return { username, password };
  if (username || password) {
    throw new Error(`${prefix}_USERNAME and ${prefix}_PASSWORD must be set together`);
  }
  return undefined;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const home = resolve(env.TAGSHIP_HOME ?? '.tagship');
  const index = credentials(env, 'TAGSHIP_INDEX');
  const registry = credentials(env, 'TAGSHIP_REGISTRY');
  const codec = keyRingFromEnv(env);
  const imageBuilds = positiveInt(env, 'TAGSHIP_IMAGE_BUILDS');
  const githubToken = env.TAGSHIP_GITHUB_TOKEN;
  return {
    workDir: resolve(env.TAGSHIP_WORK_DIR ?? `${home}/work`),
    artifactDir: resolve(env.TAGSHIP_ARTIFACT_DIR ?? `${home}/artifacts`),
    ...(index ? { index } : {}),
    ...(registry ? { registry } : {}),
    ...(codec ? { codec } : {}),
    ...(imageBuilds !== undefined ? { imageBuilds } : {}),
    ...(githubToken ? { githubToken } : {}),
  };
}
