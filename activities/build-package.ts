// Build one package of the release with uv (sdist + wheel) from the validated commit, check the
// result, and put the files in the artifact store. Only names, sizes and hashes go back to history.
// The first build of a commit is recorded and reused by every later run of it (build-record.ts),
// and a version taken from the git tag is proven in the built metadata, not trusted.
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { PackageConfig } from '../src/config/schema';
import type { BuiltFile, BuiltPackage } from '../src/contract/release';
import { tools } from './lib/tools';
import type { WorkerSettings } from './lib/settings';
import { readProject, type DynamicVersion } from './lib/pyproject';
import { artifactPath, storeArtifact } from './lib/artifact-store';
import { lastLines } from './lib/build-failure';
import { runChild, UV_PASS, uvWorkerPaths } from './lib/child-process';
import { ownedTempDir } from './lib/leftovers';
import { findBuildRecord, recordBuild, replaceBuildRecord, type BuildKey } from './lib/build-record';
import { readDistMetadata } from './lib/dist-metadata';
import { reconcileWithIndex } from './lib/earlier-uploads';
import { pathInCheckout } from './lib/checkout-paths';
import { commitTime, ensureCheckout } from './lib/git-checkout';
import { repoRef } from './lib/repo-ref';
import type { BuildPackageInput } from '../src/contract/activities';
import { failure } from '../src/contract/failures';

/** PEP 625 / wheel file-name form of a project name. */
export function distributionStem(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '_');
}

/** Checks the build produced exactly one sdist and at least one wheel named for this package and version. */
export function classifyDistributions(files: readonly string[], name: string, version: string): { filename: string; kind: BuiltFile['kind'] }[] {
  const stem = `${distributionStem(name)}-${version}`;
  const sdists = files.filter((f) => f.endsWith('.tar.gz'));
  const wheels = files.filter((f) => f.endsWith('.whl'));
  const problems: string[] = [];
  if (sdists.length !== 1 || sdists[0] !== `${stem}.tar.gz`) problems.push(`expected sdist ${stem}.tar.gz, got ${sdists.join(', ') || 'none'}`);
  if (wheels.length === 0) problems.push('no wheel was built');
  for (const w of wheels) if (!w.startsWith(`${stem}-`)) problems.push(`wheel ${w} is not named for ${name} ${version}`);
  if (problems.length > 0) {
    throw failure('BuildOutputMismatch', `build of ${name} ${version} produced unexpected files: ${problems.join('; ')}`);
  }
  return [...sdists.map((filename) => ({ filename, kind: 'sdist' as const })), ...wheels.sort().map((filename) => ({ filename, kind: 'wheel' as const }))];
}

/**
 * The environment variables by which VCS-versioning backends take a version instead of asking git,
 * so the build gets the tag's version even where git history is unusual. setuptools-scm reads the
 * variable scoped to its distribution name; hatch-vcs calls it without a name and reads only the
 * unscoped one, which is safe here because one build process builds one package.
 */
export function pretendVersionEnv(name: string, version: string): Record<string, string> {
  const dist = name.replace(/[-_.]+/g, '_').toUpperCase();
  return {
    [`SETUPTOOLS_SCM_PRETEND_VERSION_FOR_${dist}`]: version,
    SETUPTOOLS_SCM_PRETEND_VERSION: version,
    UV_DYNAMIC_VERSIONING_BYPASS: version,
    PDM_BUILD_SCM_VERSION: version,
    POETRY_DYNAMIC_VERSIONING_BYPASS: version,
  };
}

/** Every built file must declare the release's version in its own metadata; the seed's words otherwise. */
async function checkBuiltVersions(dir: string, files: readonly string[], name: string, version: string, dynamic: DynamicVersion | undefined): Promise<void> {
  const wrong: string[] = [];
  for (const f of files) {
    const meta = await readDistMetadata(join(dir, f)).catch((err: Error) => {
      throw failure('BuildOutputMismatch', `build of ${name} produced an unreadable distribution: ${err.message}`);
    });
    if (meta.version !== version) wrong.push(`${f} (${f.endsWith('.whl') ? 'METADATA' : 'PKG-INFO'}) says ${meta.version}`);
  }
  if (wrong.length === 0) return;
  const found = wrong[0]!.replace(/^.* says /, '');
  const how = dynamic ? `its version is ${dynamic.fromTag ? 'taken from the git tag' : 'computed'} by ${dynamic.backend}` : 'its pyproject.toml version';
  throw failure('VersionMismatch', `ERROR: Tag version (${version}) doesn't match package version (${found})\n  package ${name} (${how}): ${wrong.join('; ')}`);
}

async function readDynamic(checkout: string, path: string): Promise<DynamicVersion | undefined> {
  const file = join(path, 'pyproject.toml');
  try {
    return readProject(await readFile(join(checkout, file), 'utf8'), file).dynamic;
  } catch (err) {
    // Validate already read this file at this commit; it cannot have become unreadable.
    throw failure('VersionMismatch', (err as Error).message);
  }
}

/** Runs uv build at the validated commit and checks what it produced; returns the files in `out`. */
async function freshBuild(
  settings: WorkerSettings,
  input: BuildPackageInput,
  pkg: PackageConfig,
  out: string,
): Promise<{ filename: string; kind: BuiltFile['kind'] }[]> {
  const checkout = await ensureCheckout(settings.workDir, repoRef(input.config), input.tag, input.commit);
  const epoch = await commitTime(checkout);
  // Resolved through symlinks before anything reads it: a package directory linked out of the
  // repository would build (and publish) whatever the worker's disk holds there.
  const packageDir = pathInCheckout(checkout, pkg.path, `package ${pkg.name}: path`);
  const dynamic = await readDynamic(checkout, pkg.path);
  // The build backend is code from the repository being released: it runs without the worker's
  // secrets, in a private HOME, and is killed with uv when the step is cancelled (child-process.ts).
  const built = await runChild(tools.uv(), ['build', '--sdist', '--wheel', '--no-progress', '--out-dir', out, packageDir], {
    cwd: checkout,
    untrusted: true,
    pass: UV_PASS,
    env: {
      ...uvWorkerPaths(),
      // The commit time makes archive timestamps, and so the hashes, reproducible where the backend allows.
      SOURCE_DATE_EPOCH: String(epoch),
      NO_COLOR: '1',
      ...(dynamic?.fromTag ? pretendVersionEnv(pkg.name, input.version) : {}),
    },
  });
  if (built.exitCode !== 0) {
    // A build that fails on the validated commit fails the same way every time.
    throw failure('BuildFailed', `uv build of ${pkg.name} failed (exit ${built.exitCode}):\n${lastLines(built.output, 15)}`);
  }
  const names = (await readdir(out)).filter((f) => f.endsWith('.tar.gz') || f.endsWith('.whl'));
  await checkBuiltVersions(out, names, pkg.name, input.version, dynamic);
  const files = classifyDistributions(names, pkg.name, input.version);
  const check = await runChild(tools.twine(), ['check', ...files.map((f) => join(out, f.filename))], { env: { NO_COLOR: '1' } });
  if (check.exitCode !== 0) {
    throw failure('MetadataInvalid', `metadata check of ${pkg.name} failed:\n${lastLines(check.output, 15)}`);
  }
  return files;
}

async function storeAll(artifactDir: string, files: readonly { filename: string; kind: BuiltFile['kind']; path: string }[]): Promise<BuiltFile[]> {
  const stored: BuiltFile[] = [];
  for (const f of files) {
    const { sha256, size } = await storeArtifact(artifactDir, f.path);
    stored.push({ filename: f.filename, kind: f.kind, size, sha256 });
  }
  return stored;
}

export async function buildPackage(settings: WorkerSettings, input: BuildPackageInput): Promise<BuiltPackage> {
  const pkg = input.config.packages.find((p) => p.name === input.package);
  if (!pkg) throw failure('UnknownPackage', `package ${input.package} is not in the configuration`);
  const repo = repoRef(input.config);
  const key: BuildKey = { owner: repo.owner, repo: repo.name, commit: input.commit, package: pkg.name, version: input.version };
  const out = await ownedTempDir('build');
  try {
    let files: readonly BuiltFile[];
    let reusedFrom: string | undefined;
    const recorded = await findBuildRecord(settings.artifactDir, key);
    if (recorded.kind === 'found') {
      files = recorded.record.files;
      reusedFrom = recorded.record.builtAt;
    } else {
      if (recorded.kind === 'broken')
        Context.current().log.warn(`rebuilding ${pkg.name} ${input.version}: its recorded build is unusable: ${recorded.problem}`);
      const built = await freshBuild(settings, input, pkg, out);
      const stored = await storeAll(
        settings.artifactDir,
        built.map((f) => ({ ...f, path: join(out, f.filename) })),
      );
      // Another run of the commit may have recorded its build first; then that one is the build.
      const record = await recordBuild(settings.artifactDir, key, stored, new Date());
      files = record.files;
      if (record.files !== stored) reusedFrom = record.builtAt;
    }
    let adopted: string[] = [];
    // A real run also holds recorded files (a dry run's, or files recorded before an earlier
    // upload by hand) against the index: where the index already has the name, its bytes are the release's.
    if (!input.dryRun) {
      const reconciled = await reconcileWithIndex({
        simpleUrl: input.config.index.simple_url,
        project: pkg.name,
        commit: input.commit,
        built: files.map((f) => ({ filename: f.filename, path: artifactPath(settings.artifactDir, f.sha256), sha256: f.sha256 })),
        scratch: out,
        signal: Context.current().cancellationSignal,
      });
      if (reconciled.adopted.length > 0) {
        adopted = [...reconciled.adopted];
        files = await storeAll(
          settings.artifactDir,
          reconciled.files.map((f, i) => ({ filename: f.filename, path: f.path, kind: files[i]!.kind })),
        );
        await replaceBuildRecord(settings.artifactDir, key, files, new Date());
      }
    }
    return {
      package: pkg.name,
      version: input.version,
      files,
      ...(reusedFrom !== undefined ? { reusedFrom } : {}),
      ...(adopted.length > 0 ? { adopted } : {}),
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
