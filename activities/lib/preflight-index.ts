// Whether the index will take this release's uploads, without uploading anything.
// - Trusted publishing: PyPI's audience endpoint must answer, and when CI sent its OIDC token the
//   token is exchanged for an upload token now, so a missing trusted publisher is found before any
//   package is on the index. The minted token is thrown away (it expires on its own); an expired
//   OIDC token is no preflight failure, because the publish step waits for a fresh one.
// - Token: an upload request without a file. PyPI (Warehouse) and pypiserver check the
//   credentials before they read the form, so a refused password answers 401/403 and an accepted
//   one 400 for the missing file; nothing can be stored from a request that carries no file.
import { ApplicationFailure } from '@temporalio/common';
import type { PreflightConfig } from '../../src/contract/activities';
import { publicClaims, secondsLeft } from './oidc-token';
import type { Credentials } from './settings';
import { fetchAudience, mintUploadToken } from './trusted-publishing';
import { answerText, deadline, isTransientStatus, networkReason, refused, unreachable } from './preflight-check';

const CHECK = 'index upload';
/** As resolveOidcToken: a token this close to its expiry is not worth exchanging. */
const SKEW_SECONDS = 60;

/**
 * Turns trusted publishing's failures into preflight's verdicts: `refusal` words a refusal, and
 * `expired` (when given) answers an expired token, which is no failure here.
 */
function translate(err: unknown, refusal: (message: string) => string, expired?: (message: string) => string): string {
  if (!(err instanceof ApplicationFailure)) throw err;
  switch (err.type) {
    case 'TrustedPublishingUnreachable':
    case 'TrustedPublishingUnavailable':
      throw unreachable(CHECK, err.message);
    case 'OidcTokenExpired':
      if (expired) return expired(err.message.split('\n')[0] ?? err.message);
      throw refused(CHECK, refusal(err.message));
    case 'TrustedPublishingRefused':
      throw refused(CHECK, refusal(err.message));
    default:
      throw err;
  }
}

async function checkTrustedPublishing(index: PreflightConfig['index'], oidcToken: string | undefined): Promise<string> {
  let audience: string;
  try {
    audience = await fetchAudience(index.oidc_url);
  } catch (err) {
    return translate(err, (m) => m);
  }
  const answers = `trusted publishing: ${index.oidc_url} answers (audience "${audience}")`;
  const waits = 'not a preflight failure: the publish step waits for a fresh token';
  if (oidcToken === undefined) return `${answers}; CI sent no OIDC token yet, so the trusted publisher is checked when one arrives at publish`;
  const left = secondsLeft(oidcToken);
  if (left !== undefined && left < SKEW_SECONDS) {
    return `${answers}; CI's OIDC token has expired (${JSON.stringify(publicClaims(oidcToken))}), so it was not exchanged; ${waits}`;
  }
  try {
    // Proves the trusted publisher; the upload token it returns is dropped here, never returned or logged.
    await mintUploadToken(index.oidc_url, oidcToken);
  } catch (err) {
    return translate(
      err,
      (m) =>
        `${index.oidc_url} refused to exchange CI's OIDC token for an upload token; is a trusted publisher configured for this repository and workflow? ${m}`,
      (m) => `${answers}; it refused CI's OIDC token as expired or invalid (${m}); ${waits}`,
    );
  }
  return `${answers}; CI's OIDC token was exchanged for an upload token, so a trusted publisher accepts this release (the upload token was discarded)`;
}

async function checkUploadCredentials(index: PreflightConfig['index'], credentials: Credentials | undefined, signal?: AbortSignal): Promise<string> {
  const url = index.upload_url;
  if (!credentials) {
    throw refused(
      CHECK,
      'index.auth = "token" but this worker has no index credentials: set TAGSHIP_INDEX_TOKEN (or TAGSHIP_INDEX_USERNAME and TAGSHIP_INDEX_PASSWORD), or use index.auth = "trusted-publishing"',
    );
  }
  // The legacy upload API's form without its `content` file: the credentials are all it can judge.
  const form = new FormData();
  form.set(':action', 'file_upload');
  form.set('protocol_version', '1');
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      body: form,
      headers: { authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` },
      // A redirect would carry the request (and, same-origin, the credentials) somewhere unasked.
      redirect: 'manual',
      signal: deadline(signal),
    });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw unreachable(CHECK, `cannot reach ${url}: ${networkReason(err)}`);
  }
  const said = await answerText(res);
  const answer = `HTTP ${res.status}${said ? `: ${said}` : ''}`;
  if (res.status === 401 || res.status === 403) {
    throw refused(CHECK, `${url} refused the worker's index credentials (${answer}); check TAGSHIP_INDEX_TOKEN or TAGSHIP_INDEX_USERNAME/_PASSWORD`);
  }
  if (isTransientStatus(res.status)) throw unreachable(CHECK, `${url} could not answer (${answer})`);
  if (res.status === 400 || res.ok) {
    return `token: ${url} accepted the worker's credentials (it answered an upload without a file with ${answer}; nothing was uploaded)`;
  }
  return `token present (not verifiable without an upload: ${url} answered an upload without a file with ${answer})`;
}

/** The index's upload auth, as index.auth says it is done; returns what was proven or throws a PreflightProblem. */
export async function checkIndexUpload(
  index: PreflightConfig['index'],
  credentials: Credentials | undefined,
  oidcToken: string | undefined,
  signal?: AbortSignal,
): Promise<string> {
  return index.auth === 'trusted-publishing' ? checkTrustedPublishing(index, oidcToken) : checkUploadCredentials(index, credentials, signal);
}
