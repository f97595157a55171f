// The GitHub Release of a release tag, created once and updated on every later run: notes from the
// commits since the previous release, and two small assets that say exactly what was published.
// Idempotent by content: an asset GitHub already holds with the same sha256 is left alone, so a
// retried or re-run activity uploads nothing new and never makes a second release.
import { createHash } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import { isStable, parseVersion, tagForVersion } from '../src/contract/version';
import type { WorkerSettings } from './lib/settings';
import { isLatestRelease, releaseHistory, renderReleaseNotes } from './lib/release-notes';
import { repoRef } from './lib/repo-ref';
import type { GitHubReleaseConfig, GitHubReleaseInput, GitHubReleaseResult } from '../src/contract/activities';
import { failure } from '../src/contract/failures';
import { repositorySlug } from '../src/contract/workflow-ids';

export const SHA256SUMS_ASSET = 'SHA256SUMS';
export const IMAGES_ASSET = 'images.txt';

/** `sha256sum -c` input: `<sha256>  <filename>` (two spaces: text mode), sorted by file name. */
export function sha256sums(files: GitHubReleaseInput['files']): string {
  const lines = [...files].sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0)).map((f) => `${f.sha256}  ${f.filename}\n`);
  return [...new Set(lines)].join('');
}

/**
 * images.txt: every line starts with a pullable, digest-pinned reference.
 *   `<reference>@<index digest>`                the multi-platform index a tag was pushed as
 *   `<reference>@<manifest digest> <platform>`  that index's image for one platform, e.g. linux/arm64
 * Variants sorted by name, references sorted, each index line followed by its platforms (sorted),
 * so `cut -d' ' -f1` gives references to pull and `grep ' linux/arm64$'` one platform's.
 */
export function imagesList(images: GitHubReleaseInput['images']): string {
  const out: string[] = [];
  const sorted = [...images].sort((a, b) => (a.variant < b.variant ? -1 : a.variant > b.variant ? 1 : 0));
  for (const img of sorted) {
    // PublishedImage.platforms is a list of names; only {platform, digest} pairs give lines.
    const platforms = (img.platforms ?? [])
      .filter((p) => typeof p === 'object' && p !== null && typeof p.digest === 'string')
      .sort((a, b) => (a.platform < b.platform ? -1 : a.platform > b.platform ? 1 : 0));
    for (const ref of [...img.tags].sort()) {
      out.push(`${ref}@${img.digest}\n`, ...platforms.map((p) => `${ref}@${p.digest} ${p.platform}\n`));
    }
  }
  return out.join('');
}

interface GitHubErrorLike {
  readonly status: number;
  readonly message?: string;
  readonly response?: { readonly data?: unknown; readonly headers?: Record<string, string | number | undefined> };
}

function isHttpError(err: unknown): err is GitHubErrorLike {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';
}

function githubMessage(err: GitHubErrorLike): string {
  const data = err.response?.data as { message?: unknown; errors?: { code?: string; field?: string; resource?: string; message?: string }[] } | undefined;
  const message = typeof data?.message === 'string' ? data.message : 'no message';
  const details = (Array.isArray(data?.errors) ? data.errors : []).map((e) => e.message ?? [e.resource, e.field, e.code].filter(Boolean).join(' '));
  return details.length > 0 ? `${message} (${details.join('; ')})` : message;
}

function rateLimited(err: GitHubErrorLike): boolean {
  // GitHub answers an exhausted (or secondary) rate limit with 403 or 429; waiting fixes both.
  if (err.status === 429) return true;
  return err.status === 403 && (String(err.response?.headers?.['x-ratelimit-remaining']) === '0' || /rate limit/i.test(githubMessage(err)));
}

class GitHub {
  readonly octokit: Octokit;
  readonly repository: string;

  constructor(
    readonly config: GitHubReleaseConfig,
    private readonly token: string,
  ) {
    this.repository = repositorySlug(config);
    const quiet = () => {};
    this.octokit = new Octokit({
      baseUrl: config.github_release.api_url.replace(/\/+$/, ''),
      auth: token,
      userAgent: 'tagship',
      // Every outcome ends up in the result or in a failure below; octokit's own lines would only
      // log the expected 404 of a release that does not exist yet as an error.
      log: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    });
  }

  /** The token must not leave this process, even if a server echoes it back. */
  private redact(text: string): string {
    return this.token ? text.replaceAll(this.token, '[REDACTED]') : text;
  }

  /** Runs one API call and turns GitHub's answer into a failure the workflow can act on. */
  async call<T>(what: string, fn: () => Promise<T>, on404?: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!isHttpError(err)) throw new Error(this.redact(`GitHub ${what} for ${this.repository} failed: ${(err as Error).message}`));
      if (err.status === 404 && on404) return on404();
      throw this.failure(what, err);
    }
  }

  private failure(what: string, err: GitHubErrorLike): Error {
    const api = this.config.github_release.api_url;
    const said = githubMessage(err);
    const r = this.repository;
    if (rateLimited(err)) return new Error(this.redact(`GitHub ${what} for ${r}: rate limited (HTTP ${err.status}: ${said})`));
    if (err.status === 401 || err.status === 403) {
      return failure(
        'GitHubAuthRejected',
        this.redact(`GitHub rejected TAGSHIP_GITHUB_TOKEN for ${what} on ${r} (HTTP ${err.status}: ${said}); the token needs \`contents: write\` on ${r}`),
      );
    }
    if (err.status === 404) {
      return failure(
        'GitHubRepositoryNotFound',
        this.redact(`GitHub repository ${r} not found at ${api} during ${what} (or TAGSHIP_GITHUB_TOKEN cannot see it); check [repository] owner and name`),
      );
    }
    if (err.status === 422) return failure('GitHubRejected', this.redact(`GitHub rejected ${what} on ${r}: ${said}`));
    // 5xx, octokit's 500 for a network failure, 408 and 409 are worth another attempt.
    if (err.status >= 500 || err.status === 408 || err.status === 409) {
      return new Error(this.redact(`GitHub ${what} for ${r} failed (HTTP ${err.status}: ${said})`));
    }
    return failure('GitHubRejected', this.redact(`GitHub rejected ${what} on ${r} (HTTP ${err.status}: ${said})`));
  }
}

interface ReleaseData {
  readonly id: number;
  readonly html_url: string;
  readonly upload_url: string;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The upload endpoint of a release: its `upload_url` template with the query expanded. */
export function uploadUrl(template: string, name: string): string {
  const url = new URL(template.replace(/\{[^}]*\}$/, ''));
  url.searchParams.set('name', name);
  return url.toString();
}

export async function publishGitHubRelease(settings: WorkerSettings, input: GitHubReleaseInput): Promise<GitHubReleaseResult> {
  const token = settings.githubToken;
  if (!token) {
    throw failure(
      'GitHubTokenMissing',
      `no GitHub token on this worker: set TAGSHIP_GITHUB_TOKEN (a token with \`contents: write\` on ${repositorySlug(input.config)}), or set github_release.enabled = false in tagship.toml to release without a GitHub Release`,
    );
  }
  const version = parseVersion(input.version);
  if (!version || tagForVersion(input.version) !== input.tag) {
    throw failure('InvalidTag', `tag ${input.tag} does not name version ${input.version}`);
  }

  const repo = repoRef(input.config);
  const history = await releaseHistory(settings.workDir, repo, input.version, input.commit);
  // A tag GitHub has but this mirror has not fetched yet still counts as this release's own.
  const tags = history.tags.includes(input.tag) ? history.tags : [...history.tags, input.tag];
  const notes = renderReleaseNotes({
    version: input.version,
    ...(history.previousTag ? { previousTag: history.previousTag } : {}),
    commits: history.commits,
    repository: input.config.repository,
    files: input.files,
    images: input.images,
  });
  const fields = {
    name: input.tag,
    body: notes,
    prerelease: !isStable(version),
    make_latest: isLatestRelease(tags, input.version) ? ('true' as const) : ('false' as const),
  };

  const gh = new GitHub(input.config, token);
  const { octokit } = gh;
  const owner = input.config.repository.owner;
  const name = input.config.repository.name;

  const existing = await gh.call(
    `reading the release of ${input.tag}`,
    async () => (await octokit.rest.repos.getReleaseByTag({ owner, repo: name, tag: input.tag })).data as ReleaseData,
    () => undefined,
  );
  let release: ReleaseData;
  if (existing) {
    release = await gh.call(
      `updating the release of ${input.tag}`,
      async () => (await octokit.rest.repos.updateRelease({ owner, repo: name, release_id: existing.id, ...fields })).data as ReleaseData,
    );
  } else {
    release = await gh.call(
      `creating the release of ${input.tag}`,
      // target_commitish only matters when GitHub does not have the tag: it then creates it at the
      // released commit instead of the default branch's head.
      async () =>
        (await octokit.rest.repos.createRelease({ owner, repo: name, tag_name: input.tag, target_commitish: input.commit, ...fields })).data as ReleaseData,
    );
  }

  const wanted = [
    { name: SHA256SUMS_ASSET, bytes: Buffer.from(sha256sums(input.files), 'utf8') },
    { name: IMAGES_ASSET, bytes: Buffer.from(imagesList(input.images), 'utf8') },
  ];
  const assets = await gh.call(`listing the assets of ${input.tag}`, () =>
    octokit.paginate(octokit.rest.repos.listReleaseAssets, { owner, repo: name, release_id: release.id, per_page: 100 }),
  );

  const uploaded: string[] = [];
  const unchanged: string[] = [];
  for (const asset of wanted) {
    const digest = `sha256:${sha256(asset.bytes)}`;
    const current = assets.find((a) => a.name === asset.name);
    if (current && (current as { digest?: string | null }).digest === digest && asset.bytes.length > 0) {
      unchanged.push(asset.name);
      continue;
    }
    if (current) {
      // Another content, or an upload GitHub never finished (no digest): replace it. A 404 means
      // a concurrent attempt removed it already.
      await gh.call(
        `deleting the old ${asset.name} of ${input.tag}`,
        async () => void (await octokit.rest.repos.deleteReleaseAsset({ owner, repo: name, asset_id: current.id })),
        () => undefined,
      );
    }
    // Nothing published of that kind (no images): no asset rather than an empty file.
    if (asset.bytes.length === 0) continue;
    await gh.call(`uploading ${asset.name} to ${input.tag}`, () =>
      octokit.request({
        method: 'POST',
        url: uploadUrl(release.upload_url, asset.name),
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        data: asset.bytes,
      }),
    );
    uploaded.push(asset.name);
  }

  return { id: release.id, url: release.html_url, created: !existing, assetsUploaded: uploaded, assetsUnchanged: unchanged };
}
