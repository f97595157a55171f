import type { TagshipConfig } from '../../src/config/schema';
import type { RepoRef } from './git-checkout';
import { repositorySlug } from '../../src/contract/workflow-ids';

/** Where workers fetch the repository from: the configured URL, else its GitHub address. */
export function repoRef(config: Pick<TagshipConfig, 'repository'>): RepoRef {
  const { owner, name, url } = config.repository;
  return { owner, name, url: url ?? `https://github.com/${repositorySlug(config)}.git` };
}
