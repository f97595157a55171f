// PyPI trusted publishing against a local issuer (real keys, JWKS, signed GitHub-shaped tokens) and
// a local server speaking PyPI's audience/mint-token protocol in front of the real index. Where the
// worker finds a token (runner, GCP metadata, token file) is in test/unit/trusted-publishing.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { publishPackage } from '../activities/publish-package';
import { listProjectFiles } from '../activities/lib/simple-index';
import { parseConfig } from '../src/config/load';
import type { TagshipConfig } from '../src/config/schema';
import { startPypiServer, type PypiServer } from '../src/dev/stack/pypiserver';
import type { WorkerSettings } from '../activities/lib/settings';
import { startMintServer, type MintServer } from './support/pypi-mint-server';
import { startOidcIssuer, type OidcIssuer } from './support/oidc-issuer';
import { buildTinyPackage, storeAll } from './support/tiny-package';

const REPO = 'Softoft-Orga/open-ticket-ai';
const WORKFLOW = '.github/workflows/release.yml';

describe('trusted publishing (OIDC)', () => {
  let root: string;
  let index: PypiServer;
  let issuer: OidcIssuer;
  let mint: MintServer;
  let config: TagshipConfig;
  let settings: WorkerSettings;
  const claims = { repository: REPO, ref: 'refs/tags/v1.0.18', workflowFile: WORKFLOW };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tagship-oidc-'));
    index = await startPypiServer({ dataDir: join(root, 'index') });
    issuer = await startOidcIssuer(claims);
    mint = await startMintServer({
      issuer: issuer.issuer,
      jwksUrl: issuer.jwksUrl,
      publisher: { repository: REPO, workflowFile: WORKFLOW },
      indexUrl: index.uploadUrl,
      indexUsername: index.username,
      indexPassword: index.password,
    });
    config = parseConfig(
      `[index]\nauth = "trusted-publishing"\nupload_url = "${mint.url}"\nsimple_url = "${index.simpleUrl}"\noidc_url = "${mint.url}"\n`,
      'test',
    );
    // No index credentials on this worker: trusted publishing is the only way to upload.
    settings = { workDir: join(root, 'work'), artifactDir: join(root, 'artifacts') };
  });
  after(async () => {
    await mint?.close();
    await issuer?.close();
    await index?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('exchanges a forwarded GitHub token for an upload token and uploads', async () => {
    const files = await storeAll(settings, await buildTinyPackage(root, 'otai-demo-a', '1.0.18', 'a'));
    const oidcToken = await issuer.sign({ ...claims, audience: 'pypi' });
    const result = await publishPackage(settings, { config, package: 'otai-demo-a', version: '1.0.18', files, oidcToken });
    assert.deepEqual(
      result.uploaded,
      files.map((f) => f.filename),
    );
    assert.deepEqual((await listProjectFiles(index.simpleUrl, 'otai-demo-a')).map((f) => f.sha256).sort(), files.map((f) => f.sha256).sort());
    assert.deepEqual(mint.mints.at(-1), { ok: true, codes: [] });
  });

  it("shows PyPI's error code and the token's public claims when no publisher matches, never the token", async () => {
    const files = await storeAll(settings, await buildTinyPackage(root, 'otai-demo-b', '1.0.18', 'b'));
    const foreign = await issuer.sign({ ...claims, repository: 'someone/else', audience: 'pypi' });
    await assert.rejects(publishPackage(settings, { config, package: 'otai-demo-b', version: '1.0.18', files, oidcToken: foreign }), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure && err.nonRetryable);
      assert.equal(err.type, 'TrustedPublishingRefused');
      assert.match(err.message, /Trusted publishing exchange failure \(HTTP 422\)/);
      assert.match(err.message, /invalid-publisher:/);
      assert.match(err.message, /"repository":"someone\/else"/);
      assert.match(err.message, /"job_workflow_ref":"someone\/else\/\.github\/workflows\/release\.yml@refs\/tags\/v1\.0\.18"/);
      assert.ok(!err.message.includes(foreign), 'the token itself is never shown');
      return true;
    });
    assert.deepEqual(await listProjectFiles(index.simpleUrl, 'otai-demo-b'), []);
  });

  it('reports a missing or expired token as one the workflow can wait for', async () => {
    const files = await storeAll(settings, await buildTinyPackage(root, 'otai-demo-c', '1.0.18', 'c'));
    const saved = { ...process.env };
    try {
      for (const k of ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'TAGSHIP_OIDC_TOKEN_FILE', 'TAGSHIP_OIDC_GCP']) delete process.env[k];
      await assert.rejects(publishPackage(settings, { config, package: 'otai-demo-c', version: '1.0.18', files }), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'OidcTokenUnavailable');
        assert.match(err.message, /no usable OIDC token for audience "pypi"/);
        return true;
      });
      const expired = await issuer.sign({ ...claims, audience: 'pypi', expiresInSeconds: -10 });
      await assert.rejects(publishPackage(settings, { config, package: 'otai-demo-c', version: '1.0.18', files, oidcToken: expired }), (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure);
        assert.equal(err.type, 'OidcTokenExpired');
        return true;
      });
    } finally {
      process.env = saved;
    }
  });
});
