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
