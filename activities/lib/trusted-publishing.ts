// PyPI trusted publishing, as PyPI specifies it: ask the index for its OIDC audience, get an ID
// token for that audience, exchange it at `/_/oidc/mint-token` for a short-lived upload token.
// Failures carry PyPI's error codes and the token's public claims, never the token.
import { ApplicationFailure } from '@temporalio/common';
import type { Credentials } from './settings';
import { OidcTokenUnavailable, publicClaims, resolveOidcToken } from './oidc-token';

/** Token failures the workflow answers by waiting for a fresh token (signal) instead of failing. */
export const TOKEN_FAILURE_TYPES = ['OidcTokenUnavailable', 'OidcTokenExpired'] as const;

function endpoint(oidcUrl: string, path: string): string {
  return new URL(path, oidcUrl.endsWith('/') ? oidcUrl : `${oidcUrl}/`).toString();
}

async function fetchJson(url: string, init: RequestInit, what: string): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw ApplicationFailure.retryable(`${what}: cannot reach ${url}: ${(err as Error).message}`, 'TrustedPublishingUnreachable');
  }
  if (res.status >= 500 || res.status === 429) {
    await res.body?.cancel();
    throw ApplicationFailure.retryable(`${what}: ${url} answered ${res.status}`, 'TrustedPublishingUnavailable');
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw ApplicationFailure.nonRetryable(`${what}: ${url} answered 404: this index does not support trusted publishing (set index.auth = "token" for a private index)`, 'TrustedPublishingRefused');
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    throw ApplicationFailure.nonRetryable(`${what}: ${url} answered ${res.status} with a body that is not JSON`, 'TrustedPublishingRefused');
  }
}

export async function fetchAudience(oidcUrl: string): Promise<string> {
  const url = endpoint(oidcUrl, '_/oidc/audience');
  const { status, body } = await fetchJson(url, {}, 'trusted publishing audience');
  if (typeof body.audience !== 'string') throw ApplicationFailure.nonRetryable(`${url} answered ${status} without an audience`, 'TrustedPublishingRefused');
  return body.audience;
}

interface PypiErrorBody {
  message?: string;
  errors?: { code?: string; description?: string }[];
}

export async function mintUploadToken(oidcUrl: string, oidcToken: string): Promise<string> {
  const url = endpoint(oidcUrl, '_/oidc/mint-token');
  const { status, body } = await fetchJson(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: oidcToken }) }, 'trusted publishing exchange');
  if (status === 200 && typeof body.token === 'string') return body.token;
  const errors = (body as PypiErrorBody).errors ?? [];
  const codes = errors.map((e) => e.code ?? '?');
  const message =
    `Trusted publishing exchange failure (HTTP ${status}): ${(body as PypiErrorBody).message ?? 'no message'}\n` +
    errors.map((e) => `  ${e.code ?? '?'}: ${e.description ?? ''}`).join('\n') +
    `\n  token claims: ${JSON.stringify(publicClaims(oidcToken))}`;
  // An expired or otherwise unusable token is fixed by a fresh one; a publisher mismatch is not.
  const type = codes.some((c) => c === 'invalid-token' || c === 'expired-token') ? 'OidcTokenExpired' : 'TrustedPublishingRefused';
  throw ApplicationFailure.nonRetryable(message, type, { codes });
}

/** Credentials for one upload: `__token__` and a freshly minted token. */
export async function trustedPublishingCredentials(oidcUrl: string, forwarded: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Credentials & { source: string }> {
  const audience = await fetchAudience(oidcUrl);
  let id;
  try {
    id = await resolveOidcToken(audience, forwarded, env);
  } catch (err) {
    if (err instanceof OidcTokenUnavailable) {
      throw ApplicationFailure.nonRetryable(err.message, err.expired ? 'OidcTokenExpired' : 'OidcTokenUnavailable');
    }
    throw err;
  }
  return { username: '__token__', password: await mintUploadToken(oidcUrl, id.token), source: id.source };
}
