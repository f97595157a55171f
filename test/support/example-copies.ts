// Throw-away copies of the example monorepo for tests that change its pyproject.toml files.
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXAMPLE = fileURLToPath(new URL('../../examples/open-ticket-ai', import.meta.url));
export const PYPROJECT_FILES = ['pyproject.toml', 'packages/otai_hf_local/pyproject.toml', 'packages/otai_otobo_znuny/pyproject.toml'];

/** Copies the example into numbered directories under `root()` (read at call time). */
export function exampleCopier(root: () => string) {
  let n = 0;
  return {
    copy: async (): Promise<string> => {
      const dir = join(root(), `repo-${n++}`);
      await cp(EXAMPLE, dir, { recursive: true });
      return dir;
    },
    /** The bytes of every pyproject.toml, to prove what changed and what did not. */
    snapshot: async (dir: string): Promise<Buffer[]> => Promise.all(PYPROJECT_FILES.map((f) => readFile(join(dir, f)))),
  };
}
