// A fresh build of a commit whose record is gone, set against what the index already holds for the
// version. An index never lets a file name be reused, so a rebuilt file that differs from the
// uploaded one must never be sent. When the difference is only archive metadata (a setuptools
// sdist's clock times), the index's file *is* this commit's build and is adopted as the release's
// own; when contents differ, the operator is told exactly which members and what to do.
import { join } from 'node:path';
import { sha256File } from './artifact-store';
import { compareDistributions, describeDifferences } from './dist-diff';
import { downloadIndexFile, IndexHttpError, listProjectFilesForStep } from './simple-index';
import { failure } from '../../src/contract/failures';

export interface BuiltOnDisk {
  readonly filename: string;
  readonly path: string;
  readonly sha256: string;
}

export interface Reconciled {
  /** Each built file, or the index's equivalent file in its place. */
  readonly files: readonly BuiltOnDisk[];
  /** Files whose bytes were taken from the index (same contents, other archive metadata). */
  readonly adopted: readonly string[];
}

export async function reconcileWithIndex(opts: {
  readonly simpleUrl: string;
  readonly project: string;
  readonly commit: string;
  readonly built: readonly BuiltOnDisk[];
  /** Where downloaded index files go (the build's temporary directory). */
  readonly scratch: string;
  readonly signal: AbortSignal;
}): Promise<Reconciled> {
  const listed = await listProjectFilesForStep(opts.simpleUrl, opts.project);
  const files: BuiltOnDisk[] = [];
  const adopted: string[] = [];
  const conflicts: string[] = [];
  for (const file of opts.built) {
    const onIndex = listed.find((f) => f.filename === file.filename);
    if (!onIndex || onIndex.sha256 === file.sha256) {
      files.push(file);
      continue;
    }
    const path = join(opts.scratch, `index-${file.filename}`);
    try {
      await downloadIndexFile(onIndex, path, opts.signal);
    } catch (err) {
      if (err instanceof IndexHttpError && err.retryable) throw err;
      throw failure(
        'IndexFileConflict',
        `${file.filename} is already on ${opts.simpleUrl}, but it cannot be read to compare with this build: ${(err as Error).message}`,
      );
    }
    const differences = await compareDistributions(path, file.path, { filename: file.filename });
    if (differences.length === 0) {
      files.push({ filename: file.filename, path, sha256: onIndex.sha256 ?? (await sha256File(path)) });
      adopted.push(file.filename);
    } else {
      conflicts.push(describeDifferences(file.filename, differences));
    }
  }
  if (conflicts.length > 0) {
    throw failure(
      'IndexFileConflict',
      `the index ${opts.simpleUrl} already holds ${opts.project} files of this version whose contents differ from this build of commit ${opts.commit.slice(0, 12)}:\n` +
        `${conflicts.map((c) => `  ${c}`).join('\n')}\n` +
        'A published file can never be replaced, and tagship never uploads a second, different one. They were built from other sources ' +
        '(another commit, or a build that is not deterministic). Release a new version; or, if the files on the index are the ones you want, ' +
        'skip this step (its publish is skipped too, and images install what the index holds).',
    );
  }
  return { files, adopted };
}
