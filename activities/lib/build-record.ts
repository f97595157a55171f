// Which files a (repository, commit, package, version) was built into, kept next to the artifacts.
// Many build backends (setuptools above all) are not reproducible: their sdists carry clock times.
// A release that is aborted and started again, or retried on another worker, must upload the very
// bytes the first run built, or the index refuses the file name it already holds. So the first
// build of a commit is recorded, and every later run of that commit reuses it.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuiltFile } from '../../src/contract/release';
import { normalizeProjectName } from '../../src/contract/version';
import { artifactPath, sha256File } from './artifact-store';

export interface BuildRecord {
  readonly package: string;
  readonly version: string;
  readonly commit: string;
  /** When the files were first built (ISO time), for the operator reading a reuse note. */
  readonly builtAt: string;
  readonly files: readonly BuiltFile[];
}

export interface BuildKey {
  readonly owner: string;
  readonly repo: string;
  readonly commit: string;
  readonly package: string;
  readonly version: string;
}

function recordPath(artifactDir: string, key: BuildKey): string {
  return join(artifactDir, 'builds', key.owner, key.repo, key.commit, `${normalizeProjectName(key.package)}-${key.version}.json`);
}

function isRecord(value: unknown, key: BuildKey): value is BuildRecord {
  const r = value as BuildRecord;
  return (
    typeof r === 'object' &&
    r !== null &&
    r.commit === key.commit &&
    r.version === key.version &&
    Array.isArray(r.files) &&
    r.files.length > 0 &&
    r.files.every((f) => typeof f.filename === 'string' && typeof f.sha256 === 'string' && (f.kind === 'sdist' || f.kind === 'wheel'))
  );
}

export type RecordLookup =
  | { readonly kind: 'found'; readonly record: BuildRecord }
  | { readonly kind: 'none' }
  /** A record exists, but a file it names is gone from the store or no longer hashes right. */
  | { readonly kind: 'broken'; readonly record: BuildRecord; readonly problem: string };

/** The recorded build of `key`, checked against the artifact store's bytes. */
export async function findBuildRecord(artifactDir: string, key: BuildKey): Promise<RecordLookup> {
  let text: string;
  try {
    text = await readFile(recordPath(artifactDir, key), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'none' };
  }
  if (!isRecord(parsed, key)) return { kind: 'none' };
  for (const f of parsed.files) {
    const actual = await sha256File(artifactPath(artifactDir, f.sha256)).catch(() => undefined);
    if (actual === undefined) return { kind: 'broken', record: parsed, problem: `${f.filename} (sha256 ${f.sha256}) is no longer in the artifact store` };
    if (actual !== f.sha256) return { kind: 'broken', record: parsed, problem: `${f.filename} in the artifact store is corrupt (sha256 ${actual})` };
  }
  return { kind: 'found', record: parsed };
}

/**
 * Records a build unless another run recorded one first (two workers building the same commit):
 * the first record wins and is returned, so both runs go on with the same bytes.
 */
export async function recordBuild(artifactDir: string, key: BuildKey, files: readonly BuiltFile[], now: Date): Promise<BuildRecord> {
  const dest = recordPath(artifactDir, key);
  await mkdir(join(dest, '..'), { recursive: true });
  const record: BuildRecord = { package: key.package, version: key.version, commit: key.commit, builtAt: now.toISOString(), files };
  const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  try {
    // link() fails when the record exists: an atomic "create only if absent".
    await link(tmp, dest);
    return record;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const existing = await findBuildRecord(artifactDir, key);
    if (existing.kind === 'found') return existing.record;
    // The existing record points at files that are gone; this build replaces it.
    await rename(tmp, dest);
    return record;
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Replaces the record with files a real run settled on (the index's bytes, adopted because they
 * were already uploaded). Atomic: readers see the old record or the new one, never half of one.
 */
export async function replaceBuildRecord(artifactDir: string, key: BuildKey, files: readonly BuiltFile[], now: Date): Promise<void> {
  const dest = recordPath(artifactDir, key);
  await mkdir(join(dest, '..'), { recursive: true });
  const record: BuildRecord = { package: key.package, version: key.version, commit: key.commit, builtAt: now.toISOString(), files };
  const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
}
