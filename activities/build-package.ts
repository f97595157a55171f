// Build one package of the release with uv (sdist + wheel) from the validated commit, check the
// result, and put the files in the artifact store. Only names, sizes and hashes go back to history.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { ApplicationFailure } from '@temporalio/common';
import type { TagshipConfig } from '../src/config';
import type { BuiltFile, BuiltPackage } from '../src/release-types';
import { tools } from '../src/stack/tools';
import type { WorkerSettings } from '../src/worker-settings';
import { storeArtifact } from './artifact-store';
import { lastLines } from './build-failure';
import { commitTime, ensureCheckout } from './git-checkout';
import { repoRef } from './repo-ref';

export interface BuildPackageInput {
  readonly config: TagshipConfig;
  readonly tag: string;
  readonly commit: string;
  readonly version: string;
  readonly package: string;
}

/** PEP 625 / wheel file-name form of a project name. */
export function distributionStem(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '_');
}

/** Checks the build produced exactly one sdist and at least one wheel named for this package and version. */
export function classifyBuildOutput(files: readonly string[], name: string, version: string): { filename: string; kind: BuiltFile['kind'] }[] {
  const stem = `${distributionStem(name)}-${version}`;
  const sdists = files.filter((f) => f.endsWith('.tar.gz'));
  const wheels = files.filter((f) => f.endsWith('.whl'));
  const problems: string[] = [];
  if (sdists.length !== 1 || sdists[0] !== `${stem}.tar.gz`) problems.push(`expected sdist ${stem}.tar.gz, got ${sdists.join(', ') || 'none'}`);
  if (wheels.length === 0) problems.push('no wheel was built');
  for (const w of wheels) if (!w.startsWith(`${stem}-`)) problems.push(`wheel ${w} is not named for ${name} ${version}`);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(`build of ${name} ${version} produced unexpected files: ${problems.join('; ')}`, 'BuildOutputMismatch');
  }
  return [...sdists.map((filename) => ({ filename, kind: 'sdist' as const })), ...wheels.sort().map((filename) => ({ filename, kind: 'wheel' as const }))];
}

export async function buildPackage(settings: WorkerSettings, input: BuildPackageInput): Promise<BuiltPackage> {
  const pkg = input.config.packages.find((p) => p.name === input.package);
  if (!pkg) throw ApplicationFailure.nonRetryable(`package ${input.package} is not in the configuration`, 'UnknownPackage');
  const checkout = await ensureCheckout(settings.workDir, repoRef(input.config), input.tag, input.commit);
  const out = await mkdtemp(join(tmpdir(), 'tagship-build-'));
  try {
    const epoch = await commitTime(checkout);
    const built = await execa(tools.uv(), ['build', '--sdist', '--wheel', '--no-progress', '--out-dir', out, join(checkout, pkg.path)], {
      cwd: checkout,
      reject: false,
      stdin: 'ignore',
      all: true,
      // The commit time makes archive timestamps, and so the hashes, reproducible.
      env: { SOURCE_DATE_EPOCH: String(epoch), NO_COLOR: '1' },
    });
    if (built.exitCode !== 0) {
      const output = lastLines(built.all ?? '', 15);
      // A build that fails on the validated commit fails the same way every time.
      throw ApplicationFailure.nonRetryable(`uv build of ${pkg.name} failed (exit ${built.exitCode}):\n${output}`, 'BuildFailed');
    }
    const files = classifyBuildOutput(await readdir(out), pkg.name, input.version);
    const paths = files.map((f) => join(out, f.filename));
    const check = await execa(tools.twine(), ['check', ...paths], { reject: false, stdin: 'ignore', all: true, env: { NO_COLOR: '1' } });
    if (check.exitCode !== 0) {
      throw ApplicationFailure.nonRetryable(`metadata check of ${pkg.name} failed:\n${lastLines(check.all ?? '', 15)}`, 'MetadataInvalid');
    }
    const stored: BuiltFile[] = [];
    for (const f of files) {
      const { sha256, size } = await storeArtifact(settings.artifactDir, join(out, f.filename));
      stored.push({ filename: f.filename, kind: f.kind, size, sha256 });
    }
    return { package: pkg.name, version: input.version, files: stored };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
