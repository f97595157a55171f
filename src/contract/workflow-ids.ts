// Where releases live in Temporal: the task queue and every workflow and schedule id tagship uses.
// An id names the repository and version, so a redelivered webhook or a second CI job joins the
// release already running instead of starting another. These strings are the contract with every
// running release and recorded history; they never change.

/** The repository's coordinates as recorded in every config snapshot. */
export interface RepositoryName {
  readonly repository: { readonly owner: string; readonly name: string };
}

export const DEFAULT_TASK_QUEUE = 'tagship';

/** "owner/name", as GitHub writes it. */
export function repositorySlug(cfg: RepositoryName): string {
  return `${cfg.repository.owner}/${cfg.repository.name}`;
}

/** The release of one version: `release/<owner>/<repo>/v<version>` (plus `/dry-run` for a dry run). */
export function releaseWorkflowId(cfg: RepositoryName, version: string, dryRun = false): string {
  return `release/${repositorySlug(cfg)}/v${version}${dryRun ? '/dry-run' : ''}`;
}

/** Tagging a branch or commit: `tag/<owner>/<repo>/<ref>[@version][#commit]`. */
export function tagWorkflowId(cfg: RepositoryName, ref: string, version?: string, commit?: string): string {
  return `tag/${repositorySlug(cfg)}/${ref}${version ? `@${version}` : ''}${commit ? `#${commit}` : ''}`;
}

/** The schedule that re-points moving tags, and the workflows it starts. */
export function latestScheduleId(cfg: RepositoryName): string {
  return `tagship-latest/${repositorySlug(cfg)}`;
}

export function republishWorkflowId(cfg: RepositoryName): string {
  return `republish-latest/${repositorySlug(cfg)}`;
}
