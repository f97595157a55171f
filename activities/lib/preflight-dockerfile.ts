// Whether the image steps will find what they build from: images.dockerfile and images.context
// in the checkout of the release's commit (the one validate made, as the image steps make it),
// resolved through symlinks the way the image plan resolves them, so one leading out of the
// repository is refused here instead of after the packages are on the index.
import { stat } from 'node:fs/promises';
import type { PreflightConfig } from '../../src/contract/activities';
import { pathInCheckout } from './checkout-paths';
import { ensureCheckout } from './git-checkout';
import { repoRef } from './repo-ref';
import { refused } from './preflight-check';

const CHECK = 'dockerfile';

async function kind(path: string): Promise<'file' | 'directory' | 'other' | 'missing'> {
  try {
    const s = await stat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other';
  } catch {
    return 'missing';
  }
}

/** Returns what was found, or throws a PreflightProblem (or the checkout's own failure: a moved tag, an unreachable remote). */
export async function checkDockerfile(
  workDir: string,
  config: Pick<PreflightConfig, 'repository' | 'images'>,
  tag: string,
  commit: string,
  variants: readonly string[],
): Promise<string> {
  const { dockerfile, context } = config.images;
  const checkout = await ensureCheckout(workDir, repoRef(config), tag, commit);
  const at = `at commit ${commit.slice(0, 12)} (${tag})`;
  const problems: string[] = [];
  const resolved = (rel: string, what: string): string | undefined => {
    try {
      return pathInCheckout(checkout, rel, what);
    } catch (err) {
      problems.push((err as Error).message);
      return undefined;
    }
  };
  const dockerfilePath = resolved(dockerfile, 'images.dockerfile');
  const contextPath = resolved(context, 'images.context');
  if (dockerfilePath !== undefined) {
    const found = await kind(dockerfilePath);
    if (found === 'missing') problems.push(`images.dockerfile "${dockerfile}" is not in the repository ${at}`);
    else if (found !== 'file') problems.push(`images.dockerfile "${dockerfile}" is a ${found}, not a file, ${at}`);
  }
  if (contextPath !== undefined) {
    const found = await kind(contextPath);
    if (found === 'missing') problems.push(`images.context "${context}" is not in the repository ${at}`);
    else if (found !== 'directory') problems.push(`images.context "${context}" is a ${found}, not a directory, ${at}`);
  }
  if (problems.length > 0)
    throw refused(CHECK, `${problems.join('; ')}; the image steps of ${variants.join(', ')} would fail after the packages are published`);
  return `${dockerfile} (context ${context}) present ${at}, for ${variants.length === 1 ? 'variant' : 'variants'} ${variants.join(', ')}`;
}
