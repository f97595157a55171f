// Built distributions, stored by sha256 so publishing uploads exactly the bytes the build step
// hashed, from whichever worker runs it. The directory is the unit of sharing: point every worker's
// TAGSHIP_ARTIFACT_DIR at one volume (docker-compose.yml does) and any of them can publish.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { failure } from '../../src/contract/failures';

const SHA256_RE = /^[0-9a-f]{64}$/;

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function artifactPath(artifactDir: string, sha256: string): string {
  if (!SHA256_RE.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return join(artifactDir, 'sha256', sha256.slice(0, 2), sha256);
}

/** Stores `file` and returns its sha256 and size. Idempotent: the same bytes land on the same path. */
export async function storeArtifact(artifactDir: string, file: string): Promise<{ sha256: string; size: number }> {
  const sha256 = await sha256File(file);
  const { size } = await stat(file);
  const dest = artifactPath(artifactDir, sha256);
  await mkdir(join(dest, '..'), { recursive: true });
  const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
  await copyFile(file, tmp);
  await rename(tmp, dest);
  return { sha256, size };
}

/**
 * Copies a stored artifact to `dir/filename` after checking its bytes still hash to `sha256`.
 * A missing or altered artifact cannot be published: rebuilding would produce other bytes than the
 * ones this release recorded, so it is a permanent failure that says where the store is.
 */
export async function fetchArtifact(artifactDir: string, sha256: string, filename: string, dir: string): Promise<string> {
  const src = artifactPath(artifactDir, sha256);
  const exists = await stat(src).then(
    () => true,
    () => false,
  );
  if (!exists) {
    throw failure(
      'ArtifactMissing',
      `artifact ${filename} (sha256 ${sha256}) is not in the artifact store ${artifactDir}; every worker must share TAGSHIP_ARTIFACT_DIR`,
    );
  }
  const dest = join(dir, filename);
  await copyFile(src, dest);
  const actual = await sha256File(dest);
  if (actual !== sha256) {
    await rm(dest, { force: true });
    throw failure('ArtifactCorrupt', `artifact ${filename} in ${artifactDir} is corrupt: sha256 ${actual}, expected ${sha256}`);
  }
  return dest;
}
