// Whether the GitHub Release at the end of the release will be allowed, read from GitHub's own
// answer for the repository: the token must be accepted, the repository visible to it, and its
// user able to push (`permissions.push`, what creating a release needs). A classic token also
// says its scopes (X-OAuth-Scopes), and without `repo` (or `public_repo` on a public repository)
// it cannot write whatever its user may. Fine-grained and app tokens say no scopes; GitHub's
// answer then shows the user's push right, not the token's `contents: write`, which the detail says.
import { Octokit } from '@octokit/rest';
import type { PreflightConfig } from '../../src/contract/activities';
import { repositorySlug } from '../../src/contract/workflow-ids';
import { deadline, isTransientStatus, refused, unreachable } from './preflight-check';

const CHECK = 'github release';

interface HttpErrorLike {
  readonly status: number;
  readonly message?: string;
  readonly response?: { readonly data?: unknown; readonly headers?: Record<string, string | number | undefined> };
}

function isHttpError(err: unknown): err is HttpErrorLike {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';
}

function said(err: HttpErrorLike): string {
  const data = err.response?.data as { message?: unknown } | undefined;
  return typeof data?.message === 'string' ? data.message : (err.message ?? 'no message');
}

/** GitHub answers an exhausted (or secondary) rate limit with 403 or 429; waiting fixes both. */
function rateLimited(err: HttpErrorLike): boolean {
  if (err.status === 429) return true;
  return err.status === 403 && (String(err.response?.headers?.['x-ratelimit-remaining']) === '0' || /rate limit/i.test(said(err)));
}

/** Reads the repository with TAGSHIP_GITHUB_TOKEN; returns what was proven or throws a PreflightProblem. */
export async function checkGitHubRelease(
  config: Pick<PreflightConfig, 'repository'> & { readonly github_release: { readonly api_url: string } },
  token: string | undefined,
  signal?: AbortSignal,
): Promise<string> {
  const slug = repositorySlug(config);
  const api = config.github_release.api_url.replace(/\/+$/, '');
  if (!token)
    throw refused(
      CHECK,
      `the GitHub Release is on (github_release.enabled) but this worker has no TAGSHIP_GITHUB_TOKEN; it needs push (contents: write) on ${slug}`,
    );
  const quiet = () => {};
  const octokit = new Octokit({ baseUrl: api, auth: token, userAgent: 'tagship', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
  let res;
  try {
    res = await octokit.rest.repos.get({ owner: config.repository.owner, repo: config.repository.name, request: { signal: deadline(signal) } });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (!isHttpError(err)) throw unreachable(CHECK, `cannot reach ${api}: ${(err as Error).message}`);
    const answer = `HTTP ${err.status}: ${said(err)}`;
    if (rateLimited(err) || isTransientStatus(err.status)) throw unreachable(CHECK, `${api} could not answer for ${slug} (${answer})`);
    if (err.status === 401) throw refused(CHECK, `GitHub refused TAGSHIP_GITHUB_TOKEN (${answer})`);
    if (err.status === 404)
      throw refused(
        CHECK,
        `${api} has no repository ${slug}, or TAGSHIP_GITHUB_TOKEN cannot see it (${answer}); check [repository] owner and name and the token's repositories`,
      );
    throw refused(CHECK, `GitHub refused to show ${slug} to TAGSHIP_GITHUB_TOKEN (${answer})`);
  }
  const repo = res.data;
  const scopesHeader = res.headers['x-oauth-scopes'];
  const scopes =
    typeof scopesHeader === 'string'
      ? scopesHeader
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined;
  if (repo.permissions && repo.permissions.push !== true) {
    throw refused(
      CHECK,
      `TAGSHIP_GITHUB_TOKEN's user cannot push to ${slug} (GitHub answers permissions.push = false); creating its GitHub Release needs write access`,
    );
  }
  if (scopes !== undefined && !scopes.includes('repo') && !(repo.private === false && scopes.includes('public_repo'))) {
    throw refused(
      CHECK,
      `TAGSHIP_GITHUB_TOKEN is a classic token without the ${repo.private ? '"repo"' : '"repo" or "public_repo"'} scope (it has: ${scopes.join(', ') || 'none'}), so it cannot create ${slug}'s GitHub Release`,
    );
  }
  if (!repo.permissions) {
    return `TAGSHIP_GITHUB_TOKEN accepted and ${slug} visible; GitHub does not show this token's write access (it needs contents: write), so that is proven when the release is created`;
  }
  if (scopes !== undefined) return `push to ${slug} allowed (permissions.push; classic token with scope ${scopes.includes('repo') ? 'repo' : 'public_repo'})`;
  return `push to ${slug} allowed for the token's user (permissions.push); a fine-grained token also needs contents: write, which GitHub shows only when the release is created`;
}
