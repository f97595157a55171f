// The notes of a GitHub Release: the commits since the previous release tag, grouped by their
// conventional-commit type, then what the release published. The git side reads the worker's
// mirror; the rendering is pure so the same history always gives the same Markdown.
import { isGitHubRepository } from '../../src/config/schema';
import { compareVersions, isStable, parseVersion, tagForVersion, versionFromTag, type ParsedVersion } from '../../src/contract/version';
import { ensureMirror, git, type RepoRef } from './git-checkout';
import { failure } from '../../src/contract/failures';
import { repositorySlug } from '../../src/contract/workflow-ids';

export interface ReleaseCommit {
  readonly sha: string;
  readonly shortSha: string;
  /** The first paragraph of the message, on one line. */
  readonly subject: string;
  readonly body: string;
}

export interface ReleaseHistory {
  /** Every `v*.*.*` tag of the repository, sorted by version (lowest first). */
  readonly tags: readonly string[];
  readonly previousTag?: string;
  /** Newest first, merges left out. */
  readonly commits: readonly ReleaseCommit[];
}

interface VersionedTag {
  readonly tag: string;
  readonly version: ParsedVersion;
}

function versionedTags(tags: readonly string[]): VersionedTag[] {
  const out: VersionedTag[] = [];
  for (const tag of tags) {
    const text = versionFromTag(tag);
    const version = text === undefined ? undefined : parseVersion(text);
    if (version) out.push({ tag, version });
  }
  return out.sort((a, b) => compareVersions(a.version, b.version));
}

/**
 * The release before `version`: the highest lower tag, counting only stable ones for a stable
 * release, so 1.1.0's notes cover everything since 1.0.0 and not only since 1.1.0rc1.
 */
export function previousReleaseTag(tags: readonly string[], version: string): string | undefined {
  const current = parseVersion(version);
  if (!current) throw failure('InvalidVersion', `not a release version: ${version}`);
  const stableOnly = isStable(current);
  const lower = versionedTags(tags).filter((t) => compareVersions(t.version, current) < 0 && (!stableOnly || isStable(t.version)));
  return lower.at(-1)?.tag;
}

/** Whether `version` should be the repository's "Latest" release: stable and the highest stable tag. */
export function isLatestRelease(tags: readonly string[], version: string): boolean {
  const current = parseVersion(version);
  if (!current || !isStable(current)) return false;
  return versionedTags(tags).every((t) => !isStable(t.version) || compareVersions(t.version, current) <= 0);
}

function gitFailure(what: string, repo: RepoRef, err: unknown): Error {
  const stderr = ((err as { stderr?: string }).stderr ?? '').trim();
  if (/does not appear to be a git repository|repository .* not found/i.test(stderr)) {
    return failure('RepositoryNotFound', `${repo.url} is not a git repository: ${stderr.split('\n')[0]}`);
  }
  return new Error(`${what} failed: ${stderr.split('\n').slice(-3).join(' ') || (err as Error).message}`);
}

// With -z and a tformat every field ends in NUL, which no commit message can contain, so no
// subject or body can be mistaken for a separator: a commit is exactly four fields.
const LOG_FIELDS = ['%H', '%h', '%s', '%b'] as const;

export function parseGitLog(out: string): ReleaseCommit[] {
  const fields = out.split('\0');
  const commits: ReleaseCommit[] = [];
  for (let i = 0; i + LOG_FIELDS.length <= fields.length; i += LOG_FIELDS.length) {
    const [sha, shortSha, subject, body] = fields.slice(i, i + LOG_FIELDS.length) as [string, string, string, string];
    if (!/^[0-9a-f]{40,64}$/.test(sha)) throw new Error(`unexpected git log output near ${JSON.stringify(sha.slice(0, 80))}`);
    commits.push({ sha, shortSha, subject: subject.trim(), body: body.trim() });
  }
  return commits;
}

/**
 * Fetches every tag into the worker's mirror and reads the commits of this release: those
 * reachable from `commit` but not from the previous release tag (all history when there is none).
 */
export async function releaseHistory(workDir: string, repo: RepoRef, version: string, commit: string): Promise<ReleaseHistory> {
  const mirror = await ensureMirror(workDir, repo);
  try {
    // --prune drops tags deleted upstream, so a withdrawn release never becomes "the previous one"
    // on a worker that happened to fetch it.
    await git(['--git-dir', mirror, 'fetch', '--quiet', '--force', '--prune', '--no-tags', '--', repo.url, '+refs/tags/*:refs/tags/*']);
  } catch (err) {
    throw gitFailure(`git fetch of the tags of ${repo.url}`, repo, err);
  }
  const have = await git(['--git-dir', mirror, 'cat-file', '-t', commit]).catch(() => '');
  if (have !== 'commit') {
    throw failure('TagMoved', `commit ${commit} of ${tagForVersion(version)} is not in ${repo.url} any more; start a new release`);
  }
  const listed = await git(['--git-dir', mirror, 'for-each-ref', '--format=%(refname:strip=2)', 'refs/tags/v*']);
  const tags = versionedTags(listed.split('\n').filter(Boolean)).map((t) => t.tag);
  const previousTag = previousReleaseTag(tags, version);
  // Merge commits only repeat what the merged commits say.
  const range = previousTag ? [commit, `^refs/tags/${previousTag}`] : [commit];
  let out: string;
  try {
    out = await git(['--git-dir', mirror, 'log', '-z', '--no-merges', `--format=${LOG_FIELDS.join('%x00')}`, ...range, '--']);
  } catch (err) {
    throw gitFailure(`git log of ${commit}`, repo, err);
  }
  return { tags, ...(previousTag ? { previousTag } : {}), commits: parseGitLog(out) };
}

// ---- rendering ----------------------------------------------------------------------------

export interface NotesImage {
  readonly variant: string;
  readonly tags: readonly string[];
  readonly digest: string;
}

export interface ReleaseNotesInput {
  readonly version: string;
  readonly previousTag?: string;
  readonly commits: readonly ReleaseCommit[];
  /** `url` decides whether the repository is on GitHub (see isGitHubRepository); absent means it is. */
  readonly repository: { readonly owner: string; readonly name: string; readonly url?: string };
  readonly files: readonly { readonly filename: string; readonly sha256?: string }[];
  readonly images: readonly NotesImage[];
}

const SECTIONS = [
  { key: 'breaking', title: '⚠ Breaking changes' },
  { key: 'feat', title: 'Features' },
  { key: 'fix', title: 'Bug fixes' },
  { key: 'perf', title: 'Performance' },
  { key: 'docs', title: 'Documentation' },
  { key: 'other', title: 'Other' },
] as const;

type SectionKey = (typeof SECTIONS)[number]['key'];

const TYPE_SECTION: Readonly<Record<string, SectionKey>> = {
  feat: 'feat',
  fix: 'fix',
  perf: 'perf',
  docs: 'docs',
  refactor: 'other',
  build: 'other',
  ci: 'other',
  chore: 'other',
  test: 'other',
  style: 'other',
  revert: 'other',
};

const HEADER_RE = /^([A-Za-z]+)(?:\(([^()\r\n]+)\))?(!)?:[ \t]+(\S.*)$/;
const BREAKING_FOOTER_RE = /^BREAKING[ -]CHANGE:[ \t]*(.*)$/m;

export interface ConventionalCommit {
  readonly type?: string;
  readonly scope?: string;
  readonly breaking: boolean;
  /** The footer's description of the breaking change, when it has one. */
  readonly breakingNote?: string;
  readonly description: string;
}

/** Reads `type(scope)!: description` and a BREAKING CHANGE footer; `type` is absent when the header does not follow the convention. */
export function parseConventional(subject: string, body: string): ConventionalCommit {
  const footer = BREAKING_FOOTER_RE.exec(body);
  const breakingNote = footer?.[1]?.trim() || undefined;
  const m = HEADER_RE.exec(subject);
  const type = m?.[1]?.toLowerCase();
  if (!m || type === undefined || !(type in TYPE_SECTION)) {
    return { breaking: footer !== null, ...(breakingNote ? { breakingNote } : {}), description: subject };
  }
  return {
    type,
    ...(m[2] ? { scope: m[2].trim() } : {}),
    breaking: m[3] === '!' || footer !== null,
    ...(breakingNote ? { breakingNote } : {}),
    description: m[4]!.trim(),
  };
}

/** GitHub release bodies are limited to 125,000 characters; a first release of a long history must fit. */
export const MAX_LISTED_COMMITS = 500;

function commitLine(c: ConventionalCommit, commit: ReleaseCommit): string {
  const scope = c.scope ? `**${c.scope}:** ` : '';
  // A nested item, because an indented plain line would run into the subject when rendered.
  const note = c.breaking && c.breakingNote && c.breakingNote !== c.description ? `\n  - ${c.breakingNote}` : '';
  return `- ${scope}${c.description} (${commit.shortSha})${note}`;
}

/** The GitHub compare page between two tags, when the repository is on GitHub. */
export function compareUrl(repository: ReleaseNotesInput['repository'], from: string, to: string): string | undefined {
  if (!isGitHubRepository(repository.url)) return undefined;
  return `https://github.com/${repositorySlug({ repository })}/compare/${from}...${to}`;
}

export function renderReleaseNotes(input: ReleaseNotesInput): string {
  const tag = tagForVersion(input.version);
  const listed = input.commits.slice(0, MAX_LISTED_COMMITS);
  const parsed = listed.map((commit) => ({ commit, cc: parseConventional(commit.subject, commit.body) }));
  const grouped = parsed.some((p) => p.cc.type !== undefined);
  const out: string[] = [];

  const breaking = parsed.filter((p) => p.cc.breaking);
  const section = (title: string, items: typeof parsed) => {
    if (items.length === 0) return;
    out.push(`### ${title}`, '', ...items.map((p) => commitLine(p.cc, p.commit)), '');
  };

  if (parsed.length === 0) {
    out.push(input.previousTag ? `No commits since ${input.previousTag}.` : 'No commits.', '');
  } else if (grouped) {
    // A breaking commit is listed once, under breaking changes, whatever its type.
    for (const { key, title } of SECTIONS) {
      const items =
        key === 'breaking' ? breaking : parsed.filter((p) => !p.cc.breaking && (p.cc.type === undefined ? 'other' : TYPE_SECTION[p.cc.type]) === key);
      section(title, items);
    }
  } else {
    section(SECTIONS[0].title, breaking);
    section(
      'Changes',
      parsed.filter((p) => !p.cc.breaking),
    );
  }
  if (input.commits.length > listed.length) {
    out.push(`…and ${input.commits.length - listed.length} more commits.`, '');
  }

  if (input.files.length > 0) {
    const names = [...new Set(input.files.map((f) => f.filename))].sort();
    out.push('### Packages', '', ...names.map((n) => `- \`${n}\``), '', 'SHA-256 checksums are in the `SHA256SUMS` asset (`sha256sum -c SHA256SUMS`).', '');
  }

  if (input.images.length > 0) {
    const lines = [...input.images]
      .sort((a, b) => cmp(a.variant, b.variant))
      .flatMap((img) => [...img.tags].sort().map((ref) => `- \`${ref}\` (${img.variant}, \`${img.digest}\`)`));
    out.push('### Images', '', ...lines, '', 'Digests per platform are in the `images.txt` asset.', '');
  }

  const compare = input.previousTag ? compareUrl(input.repository, input.previousTag, tag) : undefined;
  if (input.previousTag && compare) out.push(`**Full changelog**: [${input.previousTag}...${tag}](${compare})`, '');

  return `${out.join('\n').trimEnd()}\n`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
