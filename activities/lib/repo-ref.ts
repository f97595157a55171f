import type { TagshipConfig } from '../../src/config/schema';
import type { RepoRef } from './git-checkout';

/** Where workers fetch the repository from: the configured URL, else its GitHub address. */
export function repoRef(config: Pick<TagshipConfig, 'repository'>): RepoRef {
  const { owner, name, url } = config.repository;
  return { owner, name, url: url ?? `https://github.com/${owner}/${name}.git` };
}
