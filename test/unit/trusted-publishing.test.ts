// Where a worker finds the OIDC token for PyPI trusted publishing when none usable was forwarded:
// the GitHub Actions runner's token endpoint, the GCP metadata server, a token file. Tokens come from
// a local issuer shaped like GitHub Actions' (real keys, signed GitHub-shaped tokens). Uploading with
// them to a real index is in test/trusted-publishing.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveOidcToken } from '../../activities/lib/oidc-token';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer';

const REPO = 'Softoft-Orga/open-ticket-ai';
const WORKFLOW = '.github/workflows/release.yml';

describe('trusted publishing (OIDC): finding a token', () => {
  let root: string;
  let issuer: OidcIssuer;
  const claims = { repository: REPO, ref: 'refs/tags/v1.0.18', workflowFile: WORKFLOW };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-oidc-unit-'));
    issuer = await startOidcIssuer(claims);
  });
  after(async () => {
    await issuer?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('gets the token from the GitHub Actions runner when none was forwarded', async () => {
    const token = await resolveOidcToken('pypi', undefined, { ...issuer.runnerEnv });
    assert.equal(token.source, 'GitHub Actions runner (ACTIONS_ID_TOKEN_REQUEST_URL)');
    const [, payload] = token.token.split('.');
    assert.equal(JSON.parse(Buffer.from(payload!, 'base64url').toString()).aud, 'pypi');
  });

  it('asks the GCP metadata server, with its Metadata-Flavor header, when enabled', async () => {
    const seen: string[] = [];
    const metadata = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push(`${req.headers['metadata-flavor']} ${url.pathname} ${url.searchParams.get('audience')}`);
      if (req.headers['metadata-flavor'] !== 'Google') return void res.writeHead(403).end();
      void issuer.sign({ ...claims, audience: url.searchParams.get('audience') ?? '' }).then((t) => res.end(t));
    });
    await new Promise<void>((r) => metadata.listen(0, '127.0.0.1', r));
    try {
      const host = `127.0.0.1:${(metadata.address() as { port: number }).port}`;
      const token = await resolveOidcToken('pypi', undefined, { TAGSHIP_OIDC_GCP: '1', GCE_METADATA_HOST: host });
      assert.equal(token.source, 'GCP metadata server (TAGSHIP_OIDC_GCP=1)');
      assert.deepEqual(seen, ['Google /computeMetadata/v1/instance/service-accounts/default/identity pypi']);
    } finally {
      metadata.close();
    }
  });

  it('reads a token file, and skips an expired forwarded token for it', async () => {
    const file = join(root, 'token');
    await writeFile(file, `${await issuer.sign({ ...claims, audience: 'pypi' })}\n`);
    const expired = await issuer.sign({ ...claims, audience: 'pypi', expiresInSeconds: -10 });
    const token = await resolveOidcToken('pypi', expired, { TAGSHIP_OIDC_TOKEN_FILE: file });
    assert.equal(token.source, 'token file (TAGSHIP_OIDC_TOKEN_FILE)');
  });
});
