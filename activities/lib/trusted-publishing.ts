// PyPI trusted publishing, as PyPI specifies it: ask the index for its OIDC audience, get an ID
// token for that audience, exchange it at `/_/oidc/mint-token` for a short-lived upload token.
// Failures carry PyPI's error codes and the token's public claims, never the token.
import { createHash } from 'node:crypto';
import type { Credentials } from './settings';
import { OidcTokenUnavailable, publicClaims, resolveOidcToken } from './oidc-token';
import { failure, failureWithDetails } from '../../src/contract/failures';
import { registerSecret } from './redactor';

function endpoint(oidcUrl: string, path: string): string {
  return new URL(path, oidcUrl.endsWith('/') ? oidcUrl : `${oidcUrl}/`).toString();
}

async function fetchJson(url: string, init: RequestInit, what: string): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw failure('TrustedPublishingUnreachable', `${what}: cannot reach ${url}: ${(err as Error).message}`);
  }
  if (res.status >= 500 || res.status === 429) {
    await res.body?.cancel();
    throw failure('TrustedPublishingUnavailable', `${what}: ${url} answered ${res.status}`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw failure(
      'TrustedPublishingRefused',
      `${what}: ${url} answered 404: this index does not support trusted publishing (set index.auth = "token" for a private index)`,
    );
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    throw failure('TrustedPublishingRefused', `${what}: ${url} answered ${res.status} with a body that is not JSON`);
  }
}

export async function fetchAudience(oidcUrl: string): Promise<string> {
  const url = endpoint(oidcUrl, '_/oidc/audience');
  const { status, body } = await fetchJson(url, {}, 'trusted publishing audience');
  if (typeof body.audience !== 'string') throw failure('TrustedPublishingRefused', `${url} answered ${status} without an audience`);
  return body.audience;
}

interface PypiErrorBody {
  message?: string;
  errors?: { code?: string; description?: string }[];
}

// PyPI takes an ID token once (it remembers its jti), and preflight and every package's publish
// need an upload token from the same forwarded ID token: the first exchange is kept here, in this
// worker's memory only, for a little less than the 15 minutes PyPI's upload tokens live.
const MINTED_FOR_MS = 12 * 60_000;
const MAX_MINTED = 256;
const minted = new Map<string, { readonly token: string; readonly until: number }>();
const minting = new Map<string, Promise<string>>();

function mintKey(oidcUrl: string, oidcToken: string): string {
  return createHash('sha256').update(oidcUrl).update('\0').update(oidcToken).digest('hex');
}

function rememberMinted(key: string, token: string): void {
  const now = Date.now();
  for (const [k, v] of minted) if (v.until <= now || minted.size >= MAX_MINTED) minted.delete(k);
  minted.set(key, { token, until: now + MINTED_FOR_MS });
}

/** An upload token for `oidcToken`: the one this worker already got for it, else a new exchange. */
export async function mintUploadToken(oidcUrl: string, oidcToken: string): Promise<string> {
  const key = mintKey(oidcUrl, oidcToken);
  const earlier = minted.get(key);
  if (earlier && earlier.until > Date.now()) {
    registerSecret(earlier.token, '__token__');
    return earlier.token;
  }
  // Every package's publish starts at once with the same ID token: one exchange serves them all.
  let pending = minting.get(key);
  if (!pending) {
    pending = exchange(oidcUrl, oidcToken, key).finally(() => minting.delete(key));
    minting.set(key, pending);
  }
  const token = await pending;
  registerSecret(token, '__token__');
  return token;
}

async function exchange(oidcUrl: string, oidcToken: string, key: string): Promise<string> {
  const url = endpoint(oidcUrl, '_/oidc/mint-token');
  const { status, body } = await fetchJson(
    url,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: oidcToken }) },
    'trusted publishing exchange',
  );
  if (status === 200 && typeof body.token === 'string') {
    // Known from here on to this activity call's redactor: an upload that echoes it stays clean.
    registerSecret(body.token, '__token__');
    rememberMinted(key, body.token);
    return body.token;
  }
  const errors = (body as PypiErrorBody).errors ?? [];
  const codes = errors.map((e) => e.code ?? '?');
  const message =
    `Trusted publishing exchange failure (HTTP ${status}): ${(body as PypiErrorBody).message ?? 'no message'}\n` +
    errors.map((e) => `  ${e.code ?? '?'}: ${e.description ?? ''}`).join('\n') +
    `\n  token claims: ${JSON.stringify(publicClaims(oidcToken))}`;
  // An expired, used (another worker exchanged it) or otherwise unusable token is fixed by a fresh
  // one; a publisher mismatch is not.
  const type = codes.some((c) => c === 'invalid-token' || c === 'expired-token' || c === 'invalid-reuse-token')
    ? 'OidcTokenExpired'
    : 'TrustedPublishingRefused';
  throw failureWithDetails(type, message, [{ codes }]);
}

/** Credentials for one upload: `__token__` and a freshly minted token. */
export async function trustedPublishingCredentials(
  oidcUrl: string,
  forwarded: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Credentials & { source: string }> {
  const audience = await fetchAudience(oidcUrl);
  let id;
  try {
    id = await resolveOidcToken(audience, forwarded, env);
  } catch (err) {
    if (err instanceof OidcTokenUnavailable) {
      throw failure(err.expired ? 'OidcTokenExpired' : 'OidcTokenUnavailable', err.message);
    }
    throw err;
  }
  return { username: '__token__', password: await mintUploadToken(oidcUrl, id.token), source: id.source };
}
