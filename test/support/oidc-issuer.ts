// A local OIDC issuer shaped like GitHub Actions': a real RSA key, a JWKS endpoint, signed ID
// tokens with GitHub's claims, and the runner's token request endpoint (ACTIONS_ID_TOKEN_REQUEST_URL).
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

export interface GithubClaims {
  readonly repository: string;
  readonly ref: string;
  /** ".github/workflows/release.yml" */
  readonly workflowFile: string;
  readonly audience: string;
  readonly expiresInSeconds?: number;
}

export interface OidcIssuer {
  readonly issuer: string;
  readonly jwksUrl: string;
  /** For a runner's environment: ACTIONS_ID_TOKEN_REQUEST_URL and _TOKEN. */
  readonly runnerEnv: { ACTIONS_ID_TOKEN_REQUEST_URL: string; ACTIONS_ID_TOKEN_REQUEST_TOKEN: string };
  sign(claims: GithubClaims): Promise<string>;
  /** Claims the runner endpoint uses for the token it hands out. */
  runnerClaims: Omit<GithubClaims, 'audience'>;
  close(): Promise<void>;
}

export async function startOidcIssuer(runnerClaims: Omit<GithubClaims, 'audience'>): Promise<OidcIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const kid = randomBytes(6).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const runnerBearer = randomBytes(16).toString('hex');
  let issuer = '';
  const state = { runnerClaims };

  const sign = (c: GithubClaims) => {
    const [owner] = c.repository.split('/');
    const workflowRef = `${c.repository}/${c.workflowFile}@${c.ref}`;
    return (
      new SignJWT({
        repository: c.repository,
        repository_owner: owner,
        ref: c.ref,
        ref_type: c.ref.startsWith('refs/tags/') ? 'tag' : 'branch',
        workflow_ref: workflowRef,
        job_workflow_ref: workflowRef,
        event_name: 'push',
      })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(issuer)
        .setSubject(`repo:${c.repository}:ref:${c.ref}`)
        .setAudience(c.audience)
        .setIssuedAt()
        // Every token GitHub issues has its own jti, which PyPI refuses to take twice.
        .setJti(randomUUID())
        .setNotBefore(Math.floor(Date.now() / 1000) - 5)
        .setExpirationTime(Math.floor(Date.now() / 1000) + (c.expiresInSeconds ?? 300))
        .sign(privateKey)
    );
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') return json(200, { issuer, jwks_uri: `${issuer}/.well-known/jwks` });
    if (url.pathname === '/.well-known/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/runner/token') {
      if (req.headers.authorization !== `bearer ${runnerBearer}`) return json(401, { message: 'bad runner token' });
      const audience = url.searchParams.get('audience');
      if (!audience) return json(400, { message: 'audience required' });
      void sign({ ...state.runnerClaims, audience }).then((value) => json(200, { count: 1, value }));
      return;
    }
    json(404, { message: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  issuer = `http://127.0.0.1:${port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks`,
    runnerEnv: { ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer}/runner/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: runnerBearer },
    sign,
    get runnerClaims() {
      return state.runnerClaims;
    },
    set runnerClaims(c) {
      state.runnerClaims = c;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
