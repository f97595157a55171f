// Where a worker gets an OIDC ID token for PyPI's audience, in order: the token CI forwarded with
// the start-release signal; the GitHub Actions runner's token endpoint; the GCP metadata server;
// a token file (Kubernetes projected service-account tokens and the like). Expired tokens are
// skipped, and when none is usable the error lists every source and why.
import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import { registerSecret } from './redactor';

export interface OidcToken {
  readonly token: string;
  readonly source: string;
}

export class OidcTokenUnavailable extends Error {
  override name = 'OidcTokenUnavailable';
  constructor(
    message: string,
    /** True when some source had a token, but only an expired one. */
    readonly expired: boolean,
  ) {
    super(message);
  }
}

const SKEW_SECONDS = 60;

/** Seconds until the token expires (negative when it has); undefined when it is not a JWT with exp. */
export function secondsLeft(token: string, nowMs = Date.now()): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return exp === undefined ? undefined : exp - Math.floor(nowMs / 1000);
  } catch {
    return undefined;
  }
}

/** The claims of a token that are safe to show in errors and logs (never the signature or the token). */
export function publicClaims(token: string): Record<string, unknown> {
  try {
    const c = decodeJwt(token);
    const keep = ['iss', 'aud', 'sub', 'repository', 'repository_owner', 'ref', 'workflow_ref', 'job_workflow_ref', 'environment', 'iat', 'exp'];
    return Object.fromEntries(keep.filter((k) => c[k] !== undefined).map((k) => [k, c[k]]));
  } catch {
    return { malformed: 'not a JWT' };
  }
}

type Source = { readonly name: string; readonly get: () => Promise<string | undefined> };

function sources(audience: string, forwarded: string | undefined, env: NodeJS.ProcessEnv): Source[] {
  return [
    { name: 'token forwarded by CI', get: async () => forwarded },
    {
      name: 'GitHub Actions runner (ACTIONS_ID_TOKEN_REQUEST_URL)',
      get: async () => {
        const url = env.ACTIONS_ID_TOKEN_REQUEST_URL;
        const bearer = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
        if (!url || !bearer) return undefined;
        registerSecret(bearer);
        const target = new URL(url);
        target.searchParams.set('audience', audience);
        const res = await fetch(target, { headers: { authorization: `bearer ${bearer}` }, signal: AbortSignal.timeout(10_000) });
        if (!res.ok) throw new Error(`token endpoint answered ${res.status}`);
        return ((await res.json()) as { value?: string }).value;
      },
    },
    {
      name: 'GCP metadata server (TAGSHIP_OIDC_GCP=1)',
      get: async () => {
        if (env.TAGSHIP_OIDC_GCP !== '1') return undefined;
        const host = env.GCE_METADATA_HOST ?? 'metadata.google.internal';
        const url = new URL(`http://${host}/computeMetadata/v1/instance/service-accounts/default/identity`);
        url.searchParams.set('audience', audience);
        url.searchParams.set('format', 'full');
        const res = await fetch(url, { headers: { 'Metadata-Flavor': 'Google' }, signal: AbortSignal.timeout(10_000) });
        if (!res.ok) throw new Error(`metadata server answered ${res.status}`);
        return (await res.text()).trim();
      },
    },
    {
      name: 'token file (TAGSHIP_OIDC_TOKEN_FILE)',
      get: async () => (env.TAGSHIP_OIDC_TOKEN_FILE ? (await readFile(env.TAGSHIP_OIDC_TOKEN_FILE, 'utf8')).trim() : undefined),
    },
  ];
}

export async function resolveOidcToken(audience: string, forwarded: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<OidcToken> {
  const notes: string[] = [];
  let sawExpired = false;
  for (const source of sources(audience, forwarded, env)) {
    let token: string | undefined;
    try {
      token = await source.get();
    } catch (err) {
      notes.push(`${source.name}: ${(err as Error).message}`);
      continue;
    }
    if (!token) {
      notes.push(`${source.name}: not configured`);
      continue;
    }
    // Whichever source it came from, the token is this activity call's secret from now on.
    registerSecret(token);
    const left = secondsLeft(token);
    if (left !== undefined && left < SKEW_SECONDS) {
      sawExpired = true;
      notes.push(`${source.name}: expired (${JSON.stringify(publicClaims(token))})`);
      continue;
    }
    return { token, source: source.name };
  }
  throw new OidcTokenUnavailable(`no usable OIDC token for audience "${audience}":\n  ${notes.join('\n  ')}`, sawExpired);
}
