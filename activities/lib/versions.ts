// The seed's version rules over a checkout: all packages share one version, and a release tag
// names it. Packages whose version is dynamic (most often taken from the git tag by setuptools-scm,
// hatch-vcs and the like) have no version to compare or set here: they get the tag's version, and
// the build step proves their built metadata carries it. Used by `tagship versions check|set`, the
// validate activity, releases from a branch and the demo.
import { readFile, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { TagshipConfig } from '../../src/config/schema';
import { readProject, setProjectVersion, type DynamicVersion } from './pyproject';
import { badTagMessage, invalidVersionMessage, isValidVersion, normalizeProjectName, versionFromTag } from '../../src/contract/version';

export interface PackageVersion {
  readonly name: string;
  /** pyproject.toml path relative to the repository root. */
  readonly file: string;
  /** The static [project] version; undefined when it is dynamic. */
  readonly version: string | undefined;
  readonly dynamic?: DynamicVersion;
}

export interface VersionCheck {
  readonly ok: boolean;
  readonly errors: string[];
  readonly packages: PackageVersion[];
  /** The one version of the release: the static packages' shared version, else the tag's. */
  readonly version: string | undefined;
}

/** What `versions set` did to one package. */
export type VersionChange =
  | { readonly file: string; readonly from: string; readonly to: string; readonly dynamic?: undefined }
  | { readonly file: string; readonly name: string; readonly dynamic: DynamicVersion };

/** How `versions check|set` describe a dynamic version. */
export function describeDynamic(d: DynamicVersion): string {
  return d.fromTag ? `version from the tag (${d.backend})` : `version set by the build (${d.backend}), checked against the tag after the build`;
}

/** Thrown by setVersions; `errors` are the individual problems, one per line of the message. */
export class VersionError extends Error {
  override name = 'VersionError';
  constructor(readonly errors: readonly string[]) {
    super(errors.join('\n'));
  }
}

type ReadPackage = PackageVersion & { readonly text: string };

interface Problem {
  readonly message: string;
  /** An invalid current version is what `versions set` repairs, so it must not block it. */
  readonly repairable: boolean;
}

function pyprojectPath(path: string): string {
  return posix.join(path, 'pyproject.toml');
}

/** Reads a file by its path relative to the repository root; a missing file rejects with code ENOENT. */
export type RepoReader = (file: string) => Promise<string>;

function directoryReader(repoDir: string): RepoReader {
  return (file) => readFile(join(repoDir, file), 'utf8');
}

async function readPackages(read: RepoReader, config: Pick<TagshipConfig, 'packages'>): Promise<{ packages: ReadPackage[]; problems: Problem[] }> {
  const packages: ReadPackage[] = [];
  const problems: Problem[] = [];
  const fail = (message: string, repairable = false) => problems.push({ message: `ERROR: ${message}`, repairable });
  for (const pkg of config.packages) {
    const file = pyprojectPath(pkg.path);
    let text: string;
    try {
      text = await read(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') fail(`${file} not found (package ${pkg.name}, path "${pkg.path}" in tagship.toml)`);
      else fail(`cannot read ${file} (package ${pkg.name}): ${code ?? (err as Error).message}`);
      continue;
    }
    let project;
    try {
      project = readProject(text, file);
    } catch (err) {
      fail((err as Error).message);
      continue;
    }
    if (project.name === undefined) {
      fail(`${file} has no [project] name (tagship.toml expects "${pkg.name}" at path "${pkg.path}")`);
    } else if (normalizeProjectName(project.name) !== normalizeProjectName(pkg.name)) {
      fail(`${file} is project "${project.name}", but tagship.toml expects "${pkg.name}" at path "${pkg.path}"`);
    }
    if (project.dynamic) {
      packages.push({ name: pkg.name, file, version: undefined, dynamic: project.dynamic, text });
      continue;
    }
    if (!isValidVersion(project.version)) {
      fail(`${file} (package ${pkg.name}) has version "${project.version}", which is not X.Y.Z (PEP 440, e.g. 1.0.18)`, true);
    }
    packages.push({ name: pkg.name, file, version: project.version, text });
  }
  return { packages, problems };
}

export async function checkVersions(opts: { repoDir: string; config: Pick<TagshipConfig, 'packages'>; tag?: string }): Promise<VersionCheck> {
  return checkVersionsWith(directoryReader(opts.repoDir), opts);
}

/** checkVersions over any view of the repository, e.g. a commit read from a git mirror. */
export async function checkVersionsWith(read: RepoReader, opts: { config: Pick<TagshipConfig, 'packages'>; tag?: string }): Promise<VersionCheck> {
  const { packages, problems } = await readPackages(read, opts.config);
  const errors = problems.map((p) => p.message);
  const statics = packages.filter((p) => p.version !== undefined);
  const distinct = [...new Set(statics.map((p) => p.version))];
  if (distinct.length > 1) {
    errors.push(['ERROR: All package versions must be identical!', ...statics.map((p) => `  ${p.name}: ${p.version} (${p.file})`)].join('\n'));
  }
  const tagVersion = opts.tag === undefined ? undefined : versionFromTag(opts.tag);
  if (opts.tag !== undefined) {
    if (tagVersion === undefined) errors.push(badTagMessage(opts.tag));
    // With differing versions there is no "package version" to compare; the message above says why.
    else if (distinct.length === 1 && distinct[0] !== tagVersion) {
      errors.push(`ERROR: Tag version (${tagVersion}) doesn't match package version (${distinct[0]})`);
    }
  }
  return {
    ok: errors.length === 0,
    errors,
    packages: packages.map(({ name, file, version, dynamic }) => ({ name, file, version, ...(dynamic ? { dynamic } : {}) })),
    version: distinct.length === 1 ? distinct[0] : tagVersion,
  };
}

/**
 * Sets every static package to `version`: reads and checks all files first, so a bad one changes
 * nothing. Dynamic versions are left alone (they follow the tag or the build) and reported as such.
 */
export async function setVersions(opts: { repoDir: string; config: Pick<TagshipConfig, 'packages'>; version: string }): Promise<VersionChange[]> {
  if (!isValidVersion(opts.version)) {
    throw new VersionError([invalidVersionMessage(opts.version)]);
  }
  const { packages, problems } = await readPackages(directoryReader(opts.repoDir), opts.config);
  const blocking = problems.filter((p) => !p.repairable);
  if (blocking.length > 0) throw new VersionError(blocking.map((p) => p.message));
  const updates = packages.filter((p) => p.version !== undefined).map((p) => ({ p, text: setProjectVersion(p.text, p.file, opts.version) }));
  const written: ReadPackage[] = [];
  try {
    for (const { p, text } of updates) {
      if (text === p.text) continue;
      await writeFile(join(opts.repoDir, p.file), text);
      written.push(p);
    }
  } catch (err) {
    // A write can still fail (permissions, full disk); put back what was already changed so the
    // packages never end up at two versions.
    await Promise.allSettled(written.map((p) => writeFile(join(opts.repoDir, p.file), p.text)));
    throw err;
  }
  return packages.map((p): VersionChange =>
    p.dynamic ? { file: p.file, name: p.name, dynamic: p.dynamic } : { file: p.file, from: p.version ?? '', to: opts.version },
  );
}
