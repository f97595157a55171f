// Files only the stack's user may read: the index's htpasswd, the codec keys, the state file. A
// file is written whole under a temporary name created 0600 and then moved into place, so it is
// never readable by others (not even for a moment, whatever the umask) and never seen half written.
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, rename, rm, writeFile } from 'node:fs/promises';

/** `dir` (and its parents) exists and is 0700, also when it existed before with a wider mode. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

async function temporaryCopy(file: string, content: string): Promise<string> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
  await chmod(temporary, 0o600);
  return temporary;
}

/** Replaces `file` with `content`, mode 0600. */
export async function writePrivateFile(file: string, content: string): Promise<void> {
  const temporary = await temporaryCopy(file, content);
  try {
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

/**
 * Creates `file` with `content`, mode 0600, unless it exists (then false, nothing written). A hard
 * link is made atomically or not at all, so of two processes racing exactly one creates the file,
 * and the file is complete from its first moment.
 */
export async function createPrivateFile(file: string, content: string): Promise<boolean> {
  const temporary = await temporaryCopy(file, content);
  try {
    await link(temporary, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await rm(temporary, { force: true });
  }
}
