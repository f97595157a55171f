// The seed's version rules over a checkout: all packages share one version, and a release tag
// names it. Used by `tagship versions check|set`, the validate activity and the demo.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TagshipConfig } from './config';
import { readProjectName, readProjectVersion, setProjectVersion } from './pyproject';
import { isValidVersion, normalizeProjectName, versionFromTag } from './version';

export interface PackageVersion {
  readonly name: string;
  /** pyproject.toml path relative to the repository root. */
  readonly file: string;
  readonly version: string;
}

export interface VersionCheck {
  readonly ok: boolean;
  readonly errors: string[];
  readonly packages: PackageVersion[];
}

function pyprojectPath(path: string): string {
  return path === '.' ? 'pyproject.toml' : `${path.replace(/\/+$/, '')}/pyproject.toml`;
}

async function readPackages(repoDir: string, config: TagshipConfig): Promise<{ packages: (PackageVersion & { text: string })[]; errors: string[] }> {
  const packages: (PackageVersion & { text: string })[] = [];
  const errors: string[] = [];
  for (const pkg of config.packages) {
    const file = pyprojectPath(pkg.path);
    let text: string;
    try {
      text = await readFile(join(repoDir, file), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      errors.push(`ERROR: ${file} not found (package ${pkg.name}, path "${pkg.path}" in tagship.toml)`);
      continue;
    }
    try {
      const version = readProjectVersion(text, file);
      const name = readProjectName(text, file);
      if (name !== undefined && normalizeProjectName(name) !== normalizeProjectName(pkg.name)) {
        errors.push(`ERROR: ${file} is project "${name}", but tagship.toml expects "${pkg.name}" at path "${pkg.path}"`);
      }
      if (!isValidVersion(version)) errors.push(`ERROR: ${file} has version "${version}", which is not X.Y.Z (e.g. 1.0.18)`);
      packages.push({ name: pkg.name, file, version, text });
    } catch (err) {
      errors.push(`ERROR: ${(err as Error).message}`);
    }
  }
  return { packages, errors };
}

export async function checkVersions(opts: { repoDir: string; config: TagshipConfig; tag?: string }): Promise<VersionCheck> {
  const { packages, errors } = await readPackages(opts.repoDir, opts.config);
  const distinct = [...new Set(packages.map((p) => p.version))];
  if (distinct.length > 1) {
    errors.push(['ERROR: All package versions must be identical!', ...packages.map((p) => `  ${p.name}: ${p.version} (${p.file})`)].join('\n'));
  }
  if (opts.tag !== undefined) {
    const tagVersion = versionFromTag(opts.tag);
    if (tagVersion === undefined) errors.push(`ERROR: Tag '${opts.tag}' does not match v*.*.* (e.g. v1.0.18)`);
    else if (distinct.length === 1 && distinct[0] !== tagVersion) {
      errors.push(`ERROR: Tag version (${tagVersion}) doesn't match package version (${distinct[0]})`);
    }
  }
  return { ok: errors.length === 0, errors, packages: packages.map(({ name, file, version }) => ({ name, file, version })) };
}

export class VersionError extends Error {
  override name = 'VersionError';
}

/** Sets every package to `version`: reads and checks all files first, so a bad one changes nothing. */
export async function setVersions(opts: { repoDir: string; config: TagshipConfig; version: string }): Promise<{ file: string; from: string; to: string }[]> {
  if (!isValidVersion(opts.version)) {
    throw new VersionError(`invalid version "${opts.version}": expected X.Y.Z (PEP 440, e.g. 1.0.18)`);
  }
  const { packages, errors } = await readPackages(opts.repoDir, opts.config);
  // A version that is not valid yet is what `set` repairs; only unreadable files block it.
  const blocking = errors.filter((e) => !/which is not X\.Y\.Z/.test(e));
  if (blocking.length > 0) throw new VersionError(blocking.join('\n'));
  const updates = packages.map((p) => ({ p, text: setProjectVersion(p.text, p.file, opts.version) }));
  for (const { p, text } of updates) await writeFile(join(opts.repoDir, p.file), text);
  return packages.map((p) => ({ file: p.file, from: p.version, to: opts.version }));
}
