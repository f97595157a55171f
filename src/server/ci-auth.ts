// Who may start a release through POST /api/releases: a GitHub Actions job proving itself with its
// OIDC ID token (issuer, audience, repository, tag ref, workflow file and, when configured, GitHub
// environment all checked), or a holder of a static bearer token. Tokens are compared in constant
// time and never echoed.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { TagshipConfig } from '../config/schema';
import { repoKey } from './webhook';

export interface CiAuthOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  /** sha256 of each accepted static token. */
  readonly staticTokens: readonly string[];
}

export type CiIdentity =
  | {
      readonly kind: 'oidc';
      readonly repository: string;
      readonly ref: string;
      readonly workflowRef: string;
      /** The job's GitHub environment (`environment:` in the workflow); absent when it declares none. */
      readonly environment?: string;
      /** The commit the job runs on. */
      readonly sha?: string;
    }
  | { readonly kind: 'token' };

export class CiAuthError extends Error {
  override name = 'CiAuthError';
  constructor(
    message: string,
    readonly status: 401 | 403,
  ) {
    super(message);
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function matchesStatic(token: string, hashes: readonly string[]): boolean {
  const candidate = Buffer.from(hashToken(token), 'hex');
  // Every hash is compared, so timing says nothing about which (or whether one) matched.
  let ok = false;
  for (const h of hashes) ok = timingSafeEqual(candidate, Buffer.from(h, 'hex')) || ok;
  return ok;
}

export function createCiAuth(opts: CiAuthOptions) {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
  return async function authenticate(header: string | undefined): Promise<CiIdentity> {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) throw new CiAuthError('missing "Authorization: Bearer <GitHub Actions OIDC token or API token>"', 401);
    const token = m[1]!;
    if (token.split('.').length !== 3) {
      if (opts.staticTokens.length > 0 && matchesStatic(token, opts.staticTokens)) return { kind: 'token' };
      throw new CiAuthError('bearer token is neither a valid API token nor a JWT', 401);
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, { issuer: opts.issuer, audience: opts.audience, algorithms: ['RS256', 'ES256'] }));
    } catch (err) {
      throw new CiAuthError(`OIDC token rejected: ${(err as Error).message}`, 401);
    }
    const repository = typeof claims.repository === 'string' ? claims.repository : '';
    const ref = typeof claims.ref === 'string' ? claims.ref : '';
    const workflowRef = typeof claims.job_workflow_ref === 'string' ? claims.job_workflow_ref : String(claims.workflow_ref ?? '');
    if (!repository || !ref || !workflowRef) throw new CiAuthError('OIDC token lacks repository, ref or workflow_ref claims', 403);
    const environment = typeof claims.environment === 'string' && claims.environment !== '' ? claims.environment : undefined;
    const sha = typeof claims.sha === 'string' && claims.sha !== '' ? claims.sha : undefined;
    return { kind: 'oidc', repository, ref, workflowRef, ...(environment !== undefined ? { environment } : {}), ...(sha !== undefined ? { sha } : {}) };
  };
}

/** What a CI request asks to release: a pushed tag, or a branch or commit to tag first. */
export type ReleaseSubject = { readonly tag: string; readonly ref?: undefined } | { readonly ref: string; readonly tag?: undefined };

/** A job may release only what it runs on: its tag, its branch, or its commit. */
function refMismatch(identity: { readonly ref: string; readonly sha?: string }, subject: ReleaseSubject): string | undefined {
  if (subject.tag !== undefined)
    return identity.ref === `refs/tags/${subject.tag}` ? undefined : `token was issued for ${identity.ref}, not refs/tags/${subject.tag}`;
  const wanted = /^[0-9a-f]{40}$/.test(subject.ref) ? undefined : subject.ref.startsWith('refs/heads/') ? subject.ref : `refs/heads/${subject.ref}`;
  if (wanted === undefined)
    return identity.sha === subject.ref ? undefined : `token was issued for commit ${identity.sha ?? '(no sha claim)'}, not ${subject.ref}`;
  return identity.ref === wanted ? undefined : `token was issued for ${identity.ref}, not ${wanted}`;
}

/** Checks an OIDC identity against the release it asks for; returns why not, or undefined. */
export function oidcMismatch(identity: CiIdentity, config: TagshipConfig, subject: ReleaseSubject): string | undefined {
  if (identity.kind !== 'oidc') return undefined;
  const expectedRepo = `${config.repository.owner}/${config.repository.name}`;
  if (repoKey(identity.repository) !== repoKey(expectedRepo)) return `token is for repository ${identity.repository}, not ${expectedRepo}`;
  const refProblem = refMismatch(identity, subject);
  if (refProblem) return refProblem;
  const workflowPrefix = `${identity.repository}/${config.ci.workflow}@`;
  if (!identity.workflowRef.startsWith(workflowPrefix)) return `token comes from workflow ${identity.workflowRef}, not ${config.ci.workflow} (ci.workflow)`;
  const expectedEnv = config.ci.environment;
  if (expectedEnv !== undefined) {
    // A trusted publisher that names an environment refuses tokens from any other job, but only at
    // the publish step, after every build; refusing here says so before the release starts.
    if (identity.environment === undefined) return `token has no environment claim; the job must declare environment: ${expectedEnv} (ci.environment)`;
    // GitHub environment names are case-insensitive, and PyPI compares them that way too.
    if (identity.environment.toLowerCase() !== expectedEnv.toLowerCase()) {
      return `token comes from environment "${identity.environment}", not "${expectedEnv}" (ci.environment)`;
    }
  }
  return undefined;
}
