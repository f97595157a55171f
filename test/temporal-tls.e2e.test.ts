// Temporal over TLS, mTLS and API keys, configured the way Temporal Cloud users configure every
// Temporal tool: a TOML profile (TEMPORAL_CONFIG_FILE / TEMPORAL_PROFILE) and TEMPORAL_* overrides.
// A real dev server sits behind a real TLS-terminating HTTP/2 proxy with certificates made by
// openssl; both the client (grpc-js) and the worker (the Rust core's NativeConnection) go through it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { execa } from 'execa';
import { findTool } from '../activities/lib/tools';
import { connectClient, connectionOptions, describeTransport, targetFromEnv } from '../src/client/connect';
import { parseConfig } from '../src/config/load';
import type { TaggedRelease } from '../src/contract/activities';
import { startTemporalDevServer, type TemporalDevServer } from '../src/dev/stack/temporal';
import { createWorker } from '../worker/run';
import { eventually } from './support/eventually';
import { startGrpcTlsProxy, type GrpcTlsProxy } from './support/grpc-tls-proxy';

interface Pki {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA the proxies do not trust, with a client certificate of its own. */
  readonly strangerCert: string;
  readonly strangerKey: string;
}

const LEAF = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'subjectKeyIdentifier=hash', 'authorityKeyIdentifier=keyid'];

/** A private CA with a server certificate for localhost/127.0.0.1 and a client certificate, made by openssl. */
async function makePki(dir: string): Promise<Pki> {
  const openssl = findTool('openssl', 'apt-get install openssl');
  const ssl = (...args: string[]) => execa(openssl, args, { cwd: dir });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = async (name: string, cn: string) =>
    ssl(
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  const leaf = async (name: string, cn: string, issuer: string, extensions: string[]) => {
    await ssl('req', '-new', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await writeFile(join(dir, `${name}.ext`), [...LEAF, ...extensions].join('\n') + '\n');
    await ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.pem`,
      '-CAkey',
      `${issuer}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  await ca('ca', 'tagship test CA');
  await leaf('server', 'localhost', 'ca', ['extendedKeyUsage=serverAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  await leaf('client', 'tagship-worker', 'ca', ['extendedKeyUsage=clientAuth']);
  await ca('stranger-ca', 'somebody else');
  await leaf('stranger', 'tagship-worker', 'stranger-ca', ['extendedKeyUsage=clientAuth']);
  const at = (f: string) => join(dir, f);
  return {
    ca: at('ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    strangerCert: at('stranger.pem'),
    strangerKey: at('stranger.key'),
  };
}

const API_KEY = 'tagship-test-key-5b0c';
const config = parseConfig('', 'defaults');

describe('Temporal behind TLS, mTLS and API keys, through connection profiles', { timeout: 6 * 60_000 }, () => {
  let dir: string;
  let pki: Pki;
  let temporal: TemporalDevServer;
  let tls: GrpcTlsProxy;
  let mtls: GrpcTlsProxy;
  let keyed: GrpcTlsProxy;
  let configFile: string;
  const clients: Client[] = [];

  /** The process environment of a tagship command: HOME is the test's, so no real temporal.toml leaks in. */
  const env = (vars: Record<string, string>): NodeJS.ProcessEnv => ({ HOME: dir, TEMPORAL_CONFIG_FILE: configFile, ...vars });

  async function connect(vars: Record<string, string>): Promise<Client> {
    const client = await connectClient(targetFromEnv(env(vars)));
    clients.push(client);
    return client;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tagship-tls-'));
    pki = await makePki(dir);
    temporal = await startTemporalDevServer({ headless: true });
    const [cert, key, ca] = await Promise.all([readFile(pki.serverCert), readFile(pki.serverKey), readFile(pki.ca)]);
    tls = await startGrpcTlsProxy({ upstream: temporal.address, cert, key });
    mtls = await startGrpcTlsProxy({ upstream: temporal.address, cert, key, ca, requireClientCert: true });
    keyed = await startGrpcTlsProxy({ upstream: temporal.address, cert, key, apiKey: API_KEY });
    configFile = join(dir, 'temporal.toml');
    await writeFile(
      configFile,
      [
        '[profile.tls]',
        `address = "${tls.address}"`,
        'namespace = "default"',
        '[profile.tls.tls]',
        `server_ca_cert_path = "${pki.ca}"`,
        '',
        '[profile.no-ca]',
        `address = "${tls.address}"`,
        '[profile.no-ca.tls]',
        'disabled = false',
        '',
        '[profile.mtls]',
        `address = "${mtls.address}"`,
        '[profile.mtls.tls]',
        `server_ca_cert_path = "${pki.ca}"`,
        `client_cert_path = "${pki.clientCert}"`,
        `client_key_path = "${pki.clientKey}"`,
        '',
        '[profile.mtls-no-cert]',
        `address = "${mtls.address}"`,
        '[profile.mtls-no-cert.tls]',
        `server_ca_cert_path = "${pki.ca}"`,
        '',
        '[profile.mtls-stranger]',
        `address = "${mtls.address}"`,
        '[profile.mtls-stranger.tls]',
        `server_ca_cert_path = "${pki.ca}"`,
        `client_cert_path = "${pki.strangerCert}"`,
        `client_key_path = "${pki.strangerKey}"`,
        '',
        '[profile.cloud]',
        `address = "${keyed.address}"`,
        `api_key = "${API_KEY}"`,
        '[profile.cloud.tls]',
        `server_ca_cert_path = "${pki.ca}"`,
        '',
        '[profile.missing-cert]',
        `address = "${mtls.address}"`,
        '[profile.missing-cert.tls]',
        `server_ca_cert_path = "${pki.ca}"`,
        `client_cert_path = "${join(dir, 'nowhere', 'client.pem')}"`,
        `client_key_path = "${pki.clientKey}"`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    for (const client of clients) await client.connection.close().catch(() => undefined);
    await Promise.all([tls?.close(), mtls?.close(), keyed?.close()]);
    await temporal?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Starts a workflow no worker polls for, finds it through visibility, and terminates it. */
  async function startAndList(client: Client): Promise<void> {
    const workflowId = `tls-probe-${randomUUID()}`;
    const handle = await client.workflow.start('nobodyRunsThis', { taskQueue: `idle-${randomUUID()}`, workflowId });
    const listed = await eventually(
      `${workflowId} in the workflow list`,
      async () => {
        const ids: string[] = [];
        for await (const wf of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) ids.push(wf.workflowId);
        return ids;
      },
      (ids) => ids.length === 1,
    );
    assert.deepEqual(listed, [workflowId]);
    await handle.terminate('probe done');
  }

  it('a profile with TLS and the private CA lists and starts workflows', async () => {
    const target = targetFromEnv(env({ TEMPORAL_PROFILE: 'tls' }));
    assert.equal(target.address, tls.address);
    assert.equal(describeTransport(target.transport), 'TLS (private CA)');
    assert.equal(target.profile, `profile tls in ${configFile}`);
    await startAndList(await connect({ TEMPORAL_PROFILE: 'tls' }));
  });

  it('TLS without the private CA fails to connect, saying where, how and why', async () => {
    const at = `cannot reach Temporal at ${tls.address} (TLS, profile no-ca in ${configFile})`;
    await assert.rejects(connect({ TEMPORAL_PROFILE: 'no-ca' }), (err: Error) => {
      assert.ok(err.message.startsWith(at), err.message);
      assert.match(
        err.message,
        /TLS handshake: unable to verify the first certificate: the server's certificate is not from a CA this client trusts \(TEMPORAL_TLS_SERVER_CA_CERT_PATH/,
      );
      return true;
    });
  });

  it('mTLS: the client certificate of the profile is accepted; no certificate, or one from another CA, is refused', async () => {
    await startAndList(await connect({ TEMPORAL_PROFILE: 'mtls' }));
    await assert.rejects(connect({ TEMPORAL_PROFILE: 'mtls-no-cert' }), (err: Error) => {
      assert.ok(err.message.startsWith(`cannot reach Temporal at ${mtls.address} (TLS (private CA), profile mtls-no-cert in ${configFile})`), err.message);
      assert.match(err.message, /the server sent "certificate required": the server requires a client certificate/);
      return true;
    });
    await assert.rejects(connect({ TEMPORAL_PROFILE: 'mtls-stranger' }), (err: Error) => {
      assert.ok(
        err.message.startsWith(`cannot reach Temporal at ${mtls.address} (TLS (private CA, client certificate), profile mtls-stranger in`),
        err.message,
      );
      assert.match(err.message, /it does not accept the client certificate/);
      return true;
    });
  });

  it('an API key from the profile is accepted; TEMPORAL_API_KEY overrides it, and a wrong one is refused as UNAUTHENTICATED', async () => {
    const target = targetFromEnv(env({ TEMPORAL_PROFILE: 'cloud' }));
    assert.equal(describeTransport(target.transport), 'TLS (private CA), API key');
    await startAndList(await connect({ TEMPORAL_PROFILE: 'cloud' }));
    const refusedBefore = keyed.unauthenticated();
    await assert.rejects(async () => {
      const client = await connect({ TEMPORAL_PROFILE: 'cloud', TEMPORAL_API_KEY: 'not-the-key' });
      for await (const _ of client.workflow.list()) break;
    }, /Failed to connect to Temporal server: 16 UNAUTHENTICATED: invalid API key/);
    assert.ok(keyed.unauthenticated() > refusedBefore, 'the proxy refused the wrong key');
  });

  for (const profile of ['mtls', 'cloud']) {
    it(`a worker connected through the ${profile} profile runs a workflow to completion`, async () => {
      const target = targetFromEnv(env({ TEMPORAL_PROFILE: profile }));
      const client = await connect({ TEMPORAL_PROFILE: profile });
      const connection = await NativeConnection.connect(connectionOptions(target));
      try {
        const taskQueue = `tls-${profile}-${randomUUID()}`;
        const tagged: TaggedRelease = { tag: 'v1.2.3', version: '1.2.3', commit: 'c'.repeat(40), created: true };
        const worker = await createWorker(
          connection,
          { namespace: target.namespace, taskQueue, settings: { workDir: join(dir, 'work'), artifactDir: join(dir, 'artifacts') } },
          { activities: { tagRelease: async () => tagged } },
        );
        const result = await worker.runUntil(
          client.workflow.execute('tagRef', { taskQueue, workflowId: `tag-${randomUUID()}`, args: [{ config, ref: 'main' }] }),
        );
        assert.deepEqual(result, tagged);
      } finally {
        await connection.close();
      }
    });
  }
});

describe('connection settings: precedence and errors that name their source', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tagship-profiles-'));
    file = join(dir, 'temporal.toml');
    await writeFile(
      file,
      [
        '[profile.default]',
        'address = "temporal.example:7233"',
        'namespace = "from-file"',
        '[profile.prod]',
        'address = "prod.tmprl.cloud:7233"',
        'namespace = "prod.acct"',
        '[profile.prod.tls]',
        `client_cert_path = "${join(dir, 'absent.pem')}"`,
        `client_key_path = "${join(dir, 'absent.key')}"`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('with nothing set: the local dev server, plain text', () => {
    const target = targetFromEnv({ HOME: dir });
    assert.equal(target.address, '127.0.0.1:7233');
    assert.equal(target.namespace, 'default');
    assert.equal(target.transport, undefined);
    assert.equal(describeTransport(target.transport), 'plain text');
  });

  it('the default profile, then TEMPORAL_*, then TAGSHIP_* win in that order', () => {
    assert.equal(targetFromEnv({ HOME: dir, TEMPORAL_CONFIG_FILE: file }).namespace, 'from-file');
    const temporal = targetFromEnv({ HOME: dir, TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'env-ns' });
    assert.deepEqual([temporal.address, temporal.namespace], ['env:7233', 'env-ns']);
    const tagship = targetFromEnv({
      HOME: dir,
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_ADDRESS: 'env:7233',
      TAGSHIP_TEMPORAL_ADDRESS: 'mine:7233',
      TAGSHIP_NAMESPACE: 'mine',
    });
    assert.deepEqual([tagship.address, tagship.namespace], ['mine:7233', 'mine']);
  });

  it('TEMPORAL_API_KEY alone turns TLS on (as Temporal Cloud needs)', () => {
    const target = targetFromEnv({ HOME: dir, TEMPORAL_API_KEY: 'k' });
    assert.equal(describeTransport(target.transport), 'TLS, API key');
  });

  it('a missing certificate file is named with the profile and file it came from', () => {
    assert.throws(
      () => targetFromEnv({ HOME: dir, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' }),
      new Error(`TLS client certificate file ${join(dir, 'absent.pem')} (client_cert_path of profile 'prod' in ${file}) cannot be read: no such file`),
    );
    assert.throws(
      () => targetFromEnv({ HOME: dir, TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'ca.pem') }),
      new Error(`TLS server CA certificate file ${join(dir, 'ca.pem')} (TEMPORAL_TLS_SERVER_CA_CERT_PATH) cannot be read: no such file`),
    );
  });

  it('half a client pair is refused rather than silently dropped', () => {
    assert.throws(() => targetFromEnv({ HOME: dir, TEMPORAL_TLS_CLIENT_CERT_DATA: 'x' }), /TLS client certificate and client key must be given together/);
  });

  it('an unknown profile names the profile and the file; an absent TEMPORAL_CONFIG_FILE names the file', () => {
    assert.throws(
      () => targetFromEnv({ HOME: dir, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' }),
      new Error(`TEMPORAL_PROFILE=staging: ${file} has no [profile.staging]`),
    );
    assert.throws(
      () => targetFromEnv({ HOME: dir, TEMPORAL_CONFIG_FILE: join(dir, 'nope.toml') }),
      new Error(`TEMPORAL_CONFIG_FILE=${join(dir, 'nope.toml')}: no such file`),
    );
    assert.throws(() => targetFromEnv({ HOME: dir, TEMPORAL_PROFILE: 'prod' }), /^Error: TEMPORAL_PROFILE=prod, but there is no config file to read it from/);
  });

  it('a config file that is not TOML is named', async () => {
    const broken = join(dir, 'broken.toml');
    await writeFile(broken, '[profile.x\naddress = 1\n');
    assert.throws(
      () => targetFromEnv({ HOME: dir, TEMPORAL_CONFIG_FILE: broken }),
      (err: Error) => err.message.startsWith(`${broken}: `),
    );
  });
});
