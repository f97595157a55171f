// The worker's settings from its environment: paths under TAGSHIP_HOME, credentials from
// TAGSHIP_*_TOKEN or _USERNAME/_PASSWORD, payload keys, build slots.
import { resolve } from 'node:path';
import type { Credentials, WorkerSettings } from '../activities/lib/settings';
import { keyRingFromEnv } from '../src/codec/encryption-codec';

function positiveInt(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  if (!/^[1-9]\d{0,3}$/.test(raw)) throw new Error(`${key}=${raw} must be a whole number from 1 to 9999`);
  return Number(raw);
}

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
