// What may name a commit to release: a branch or a full commit id, checked before either reaches
// git (the client refuses a bad ref before starting anything; the activity checks again).

/** A full SHA-1 or SHA-256 commit id. */
export const COMMIT_RE = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

// Branch names as git allows them, minus what could be read as an option or a revision expression.
const REF_RE = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)[A-Za-z0-9._/-]{1,255}(?<![./])$/;

/** Why `ref` is not a branch name or a full commit id, or undefined when it is one. */
export function invalidRef(ref: string): string | undefined {
  if (COMMIT_RE.test(ref)) return undefined;
  if (!REF_RE.test(ref) || ref.endsWith('.lock')) return `"${ref}" is not a branch name or a full commit id`;
  if (/^refs\/(?!heads\/)/.test(ref)) return `"${ref}" is not a branch (refs/heads/…); a tag is released with its own name`;
  return undefined;
}

/** The repository URL forms a worker fetches from, as said in errors. */
export const REPOSITORY_URL_FORMS = 'https://host/path, ssh://[user@]host[:port]/path, user@host:path (scp-like), file:///path or an absolute local path';

// Host names and user names as git passes them to ssh: never one that ssh could read as an option.
const SSH_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;
const SSH_USER = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const SCP_LIKE = /^([^@/:]+)@([^@/:[\]]+|\[[^\]]+\]):(.+)$/;

/**
 * Why git must not fetch from `url`, or undefined when it may. Only transports that end when the
 * release's timeouts end are allowed: git's `ext::` runs a command, `fd::` reads a file descriptor
 * forever, and a leading "-" is an option to git or ssh.
 */
export function invalidRepositoryUrl(url: string): string | undefined {
  // A password in the URL is refused elsewhere; it is never repeated in the message.
  const shown = url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^@/:]*:[^@/]*@/, '$1***@');
  const refuse = (why: string) => `${JSON.stringify(shown)} ${why}; use ${REPOSITORY_URL_FORMS}`;
  const helper = /^([A-Za-z0-9][A-Za-z0-9+.-]*)::/.exec(url)?.[1];
  if (helper !== undefined) return refuse(`uses git's ${helper}:: transport, which runs a command or reads a file descriptor`);
  // Whitespace and control characters: git and ssh split or stop at them.
  if (/[\s\p{Cc}]/u.test(url)) return refuse('contains whitespace or a control character');
  if (url.startsWith('-')) return refuse('starts with "-", which git would read as an option');
  if (url.startsWith('/')) return url.split('/').includes('..') ? refuse('is not a normalised absolute path (it has "..")') : undefined;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (!URL.canParse(url)) return refuse('is not a URL');
    const u = new URL(url);
    if (scheme === 'https') return u.hostname !== '' ? undefined : refuse('has no host');
    if (scheme === 'file') return u.hostname === '' && u.pathname.startsWith('/') ? undefined : refuse('is not a file:/// URL of a local path');
    if (scheme === 'ssh') {
      if (!SSH_HOST.test(u.hostname)) return refuse('has a host ssh could read as an option');
      if (u.username !== '' && !SSH_USER.test(decodeURIComponent(u.username))) return refuse('has a user name ssh could read as an option');
      return undefined;
    }
    return refuse(`uses the ${scheme}:// transport`);
  }
  const scp = SCP_LIKE.exec(url);
  if (scp) {
    const [, user, host, path] = scp as unknown as [string, string, string, string];
    if (!SSH_USER.test(user) || !SSH_HOST.test(host)) return refuse('has a user or host ssh could read as an option');
    if (path.startsWith('-')) return refuse('has a path that starts with "-"');
    return undefined;
  }
  return refuse('is not a URL git may fetch from');
}
