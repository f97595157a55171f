// Paths tagship.toml names inside a checkout (a package directory, the image context, the
// Dockerfile), resolved through symlinks. The schema already refuses "..": a symlink committed in
// the repository is the remaining way out, and following it would build and publish files of the
// worker's disk (another checkout, the artifact store, /etc) instead of the repository's.
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { failure, type FailureType } from '../../src/contract/failures';

export const PATH_OUTSIDE_CHECKOUT: FailureType = 'PathOutsideCheckout';

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

// A path that does not exist is resolved as far as it exists (its nearest existing ancestor, with
// the rest appended), so the caller still says "not found" in its own words; nothing outside can
// be read through a name that does not resolve. Synchronous: a few lstat calls on a local disk,
// and the image plan that needs it is synchronous.
function resolveExisting(path: string, rest: readonly string[] = []): string {
  try {
    return join(realpathSync(path), ...rest);
  } catch (err) {
    if (!isMissing(err) || dirname(path) === path) throw err;
    return resolveExisting(dirname(path), [basename(path), ...rest]);
  }
}

/** The real path of `rel` inside `checkout`; a non-retryable failure when a symlink leads it out. */
export function pathInCheckout(checkout: string, rel: string, what: string): string {
  const root = resolveExisting(checkout);
  const resolved = resolveExisting(join(root, rel));
  const inside = relative(root, resolved);
  if (inside === '' || (inside !== '..' && !inside.startsWith('../') && !isAbsolute(inside))) return resolved;
  throw failure(
    PATH_OUTSIDE_CHECKOUT,
    `${what} "${rel}" leads outside the repository through a symlink (it resolves to ${resolved}); ` +
      'tagship builds only files of the released commit: replace the symlink with the files, or point tagship.toml at the real directory',
  );
}
