// Reaching Temporal from outside the worker (CLI, server, demo, tests) and from the worker: where it
// is, how to talk to it (TLS, mTLS, API key: Temporal's own TEMPORAL_* variables and TOML profiles,
// read by @temporalio/envconfig), a client that encrypts payloads with the same keys as the
// workers, and UI links.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir, platform } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { dataConverter } from '../codec/data-converter';
import { keyRingFromEnv, type KeyRing } from '../codec/encryption-codec';
import { DEFAULT_TASK_QUEUE } from '../contract/workflow-ids';

/** How to talk to the frontend beyond its address. Absent: plain-text gRPC (a dev server). */
export interface TemporalTransport {
  /** `true`: TLS with the system's roots; an object: a private CA, an mTLS client pair, a server name. */
  readonly tls?: TLSConfig | boolean;
  /** Sent as `authorization: Bearer <key>` (Temporal Cloud API keys); never logged. */
  readonly apiKey?: string;
  /** Extra gRPC headers (TEMPORAL_GRPC_META_* or a profile's [grpc_meta]). */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface TemporalTarget {
  readonly address: string;
  readonly namespace: string;
  readonly taskQueue: string;
  /** Base URL of the Temporal UI, for links. */
  readonly uiUrl: string;
  /** Payload encryption keys (TAGSHIP_CODEC_KEYS); must match the workers'. */
  readonly codec?: KeyRing;
  readonly transport?: TemporalTransport;
  /** Where the connection settings came from ("profile prod in /etc/temporal.toml"), for log lines. */
  readonly profile?: string;
}

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

/** The Temporal CLI's default config file (the same place @temporalio/envconfig looks). */
function defaultConfigFile(env: NodeJS.ProcessEnv): string | undefined {
  switch (platform()) {
    case 'win32':
      return env.APPDATA ? join(env.APPDATA, 'temporalio', 'temporal.toml') : undefined;
    case 'darwin':
      return join(env.HOME ?? homedir(), 'Library', 'Application Support', 'temporalio', 'temporal.toml');
    default: {
      const xdg = env.XDG_CONFIG_HOME;
      if (xdg) return isAbsolute(xdg) ? join(xdg, 'temporalio', 'temporal.toml') : undefined;
      return env.HOME ? join(env.HOME, '.config', 'temporalio', 'temporal.toml') : undefined;
    }
  }
}

/** Which config file applies: TEMPORAL_CONFIG_FILE must exist when set; the default may be absent. */
function configFile(env: NodeJS.ProcessEnv): string | undefined {
  const explicit = env.TEMPORAL_CONFIG_FILE;
  if (explicit !== undefined && explicit !== '') {
    if (!existsSync(explicit)) throw new Error(`TEMPORAL_CONFIG_FILE=${explicit}: no such file`);
    return explicit;
  }
  const fallback = defaultConfigFile(env);
  return fallback && existsSync(fallback) ? fallback : undefined;
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

const TLS_FILES = [
  ['serverCACert', 'server CA certificate', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'server_ca_cert_path'],
  ['clientCert', 'client certificate', 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'client_cert_path'],
  ['clientKey', 'client key', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'client_key_path'],
] as const;

/**
 * Reads the profile's certificate files now, so a missing one is named with the setting it came
 * from (the SDK would report a bare ENOENT), and refuses half a client pair (it would drop it and
 * connect without a client certificate).
 */
function readTlsFiles(profile: ClientConfigProfile, env: NodeJS.ProcessEnv, where: string): ClientConfigProfile {
  const tls = profile.tls;
  if (!tls || tls.disabled === true) return profile;
  const read: { -readonly [K in (typeof TLS_FILES)[number][0]]?: ConfigDataSource } = {};
  for (const [field, label, envKey, tomlKey] of TLS_FILES) {
    const source = tls[field];
    if (!source || !('path' in source)) {
      read[field] = source;
      continue;
    }
    const origin = env[envKey] === source.path ? envKey : `${tomlKey} of ${where}`;
    try {
      read[field] = { data: readFileSync(source.path) };
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
      throw new Error(`TLS ${label} file ${source.path} (${origin}) cannot be read: ${reason}`, { cause: err });
    }
  }
  if ((read.clientCert === undefined) !== (read.clientKey === undefined)) {
    throw new Error(
      `TLS client certificate and client key must be given together (TEMPORAL_TLS_CLIENT_CERT_* and TEMPORAL_TLS_CLIENT_KEY_*, or client_cert_* and client_key_* of ${where})`,
    );
  }
  return { ...profile, tls: { ...tls, ...read } };
}

interface LoadedProfile {
  readonly address?: string;
  readonly namespace?: string;
  readonly transport?: TemporalTransport;
  readonly description?: string;
}

/**
 * The Temporal CLI's connection settings: the profile named by TEMPORAL_PROFILE (else `default`)
 * of TEMPORAL_CONFIG_FILE (else the CLI's temporal.toml), overridden by TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS* and TEMPORAL_GRPC_META_*.
 */
export function connectionProfileFromEnv(env: NodeJS.ProcessEnv = process.env): LoadedProfile {
  const file = configFile(env);
  const requested = env.TEMPORAL_PROFILE || undefined;
  const name = requested ?? 'default';
  const where = file ? `profile '${name}' in ${file}` : 'the TEMPORAL_* environment';
  if (requested && !file) {
    throw new Error(
      `TEMPORAL_PROFILE=${requested}, but there is no config file to read it from (set TEMPORAL_CONFIG_FILE; the default is ${defaultConfigFile(env) ?? 'unknown here'})`,
    );
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({
      ...(file ? { configSource: { path: file } } : { disableFile: true }),
      ...(requested ? { profile: requested } : {}),
      overrideEnvVars: stringEnv(env),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/^Profile '.*' not found/.test(message)) throw new Error(`TEMPORAL_PROFILE=${name}: ${file} has no [profile.${name}]`, { cause: err });
    throw new Error(`${file ?? 'TEMPORAL_* environment'}: ${message}`, { cause: err });
  }
  const options = toClientOptions(readTlsFiles(profile, env, where)).connectionOptions;
  const transport: TemporalTransport = {
    ...(options.tls !== undefined && options.tls !== null ? { tls: options.tls } : {}),
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    ...(options.metadata && Object.keys(options.metadata).length > 0 ? { metadata: options.metadata as Record<string, string> } : {}),
  };
  return {
    ...(profile.address ? { address: profile.address } : {}),
    ...(profile.namespace ? { namespace: profile.namespace } : {}),
    ...(Object.keys(transport).length > 0 ? { transport } : {}),
    ...(file ? { description: `profile ${name} in ${file}` } : {}),
  };
}

/**
 * Where Temporal is and how to reach it. TAGSHIP_TEMPORAL_ADDRESS and TAGSHIP_NAMESPACE win; then
 * Temporal's own settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, a TOML profile); then a local dev
 * server. TLS and API keys come only from Temporal's settings.
 */
export function targetFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const codec = keyRingFromEnv(env);
  const profile = connectionProfileFromEnv(env);
  return {
    address: env.TAGSHIP_TEMPORAL_ADDRESS || profile.address || DEFAULT_TEMPORAL_ADDRESS,
    namespace: env.TAGSHIP_NAMESPACE || profile.namespace || 'default',
    taskQueue: env.TAGSHIP_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    uiUrl: env.TAGSHIP_UI_URL ?? 'http://127.0.0.1:8233',
    ...(codec ? { codec } : {}),
    ...(profile.transport ? { transport: profile.transport } : {}),
    ...(profile.description ? { profile: profile.description } : {}),
  };
}

/** "TLS (private CA, client certificate), API key": how a target is reached, without secrets. */
export function describeTransport(transport: TemporalTransport | undefined): string {
  const parts: string[] = [];
  const tls = transport?.tls;
  if (tls === true) parts.push('TLS');
  else if (tls && typeof tls === 'object') {
    const details = [
      tls.serverRootCACertificate ? 'private CA' : '',
      tls.clientCertPair ? 'client certificate' : '',
      tls.serverNameOverride ? `server name ${tls.serverNameOverride}` : '',
    ];
    const said = details.filter(Boolean);
    parts.push(said.length > 0 ? `TLS (${said.join(', ')})` : 'TLS');
  } else parts.push('plain text');
  if (transport?.apiKey) parts.push('API key');
  return parts.join(', ');
}

/** The connection options both Connection and NativeConnection take. */
export function connectionOptions(target: Pick<TemporalTarget, 'address' | 'transport'>): {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
} {
  const t = target.transport;
  return {
    address: target.address,
    ...(t?.tls !== undefined ? { tls: t.tls } : {}),
    ...(t?.apiKey ? { apiKey: t.apiKey } : {}),
    ...(t?.metadata ? { metadata: { ...t.metadata } } : {}),
  };
}

// What the server's TLS alerts mean for whoever set up the profile.
const TLS_ALERT_HINTS: Readonly<Record<string, string>> = {
  'certificate required': 'the server requires a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH and _KEY_PATH, or client_cert_path and client_key_path)',
  'unknown ca': "the server does not trust the client certificate's issuer",
  'bad certificate': 'the server refused the client certificate',
  'certificate expired': 'the server refused the client certificate: it has expired',
};

const UNTRUSTED = "the server's certificate is not from a CA this client trusts (TEMPORAL_TLS_SERVER_CA_CERT_PATH or server_ca_cert_path)";
const CERT_ERROR_HINTS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED,
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate is for another name (TEMPORAL_TLS_SERVER_NAME or server_name)",
  CERT_HAS_EXPIRED: "the server's certificate has expired",
};

function handshakeMessage(err: NodeJS.ErrnoException): string {
  const hint = err.code ? CERT_ERROR_HINTS[err.code] : undefined;
  if (hint) return `TLS handshake: ${err.message}: ${hint}`;
  const alert = /alert ([a-z ]+?)(?::|$)/.exec(err.message)?.[1];
  if (alert) return `TLS handshake: the server sent "${alert}"${TLS_ALERT_HINTS[alert] ? `: ${TLS_ALERT_HINTS[alert]}` : ''}`;
  return `TLS handshake: ${err.message}`;
}

/**
 * Why a TLS connection failed, from a handshake of our own: gRPC reports only "failed to connect
 * before the deadline" for an unknown CA, a refused client certificate or a name mismatch.
 * Undefined when the handshake succeeds (the trouble is elsewhere) or TLS is off.
 */
async function tlsHandshakeProblem(target: Pick<TemporalTarget, 'address' | 'transport'>): Promise<string | undefined> {
  const tls = target.transport?.tls;
  if (!tls) return undefined;
  const options = typeof tls === 'object' ? tls : {};
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target.address);
  const host = match?.[1] ?? match?.[2];
  if (!host || !match?.[3]) return undefined;
  const servername = options.serverNameOverride ?? (isIP(host) ? undefined : host);
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port: Number(match[3]),
      ALPNProtocols: ['h2'],
      ...(servername ? { servername } : {}),
      ...(options.serverRootCACertificate ? { ca: Buffer.from(options.serverRootCACertificate) } : {}),
      ...(options.clientCertPair ? { cert: Buffer.from(options.clientCertPair.crt), key: Buffer.from(options.clientCertPair.key) } : {}),
    });
    const done = (problem: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(undefined), 5000);
    socket.once('error', (err) => done(handshakeMessage(err)));
    // TLS 1.3 servers judge the client certificate after the client's side of the handshake is
    // done: their alert arrives with the first read.
    socket.once('secureConnect', () => {
      socket.resume();
      socket.once('close', () =>
        done(`TLS handshake: the server hung up right after it${options.clientCertPair ? ': it does not accept the client certificate (or its issuer)' : ''}`),
      );
      setTimeout(() => done(undefined), 1000);
    });
  });
}

/** The messages of an error and its causes, each once ("Failed to connect…: 16 UNAUTHENTICATED: …"). */
function causeChain(err: unknown): string {
  const messages: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !messages.some((m) => m.includes(message))) messages.push(message);
  }
  return messages.join(': ');
}

/** Says where, how and (for TLS) why a connection failed; the SDK's error alone says none of it. */
export async function connectError(target: Pick<TemporalTarget, 'address' | 'transport' | 'profile'>, err: unknown): Promise<Error> {
  const how = `${describeTransport(target.transport)}${target.profile ? `, ${target.profile}` : ''}`;
  const why = await tlsHandshakeProblem(target).catch(() => undefined);
  return new Error(`cannot reach Temporal at ${target.address} (${how}): ${causeChain(err)}${why ? ` (${why})` : ''}`, { cause: err });
}

export async function connectClient(target: Pick<TemporalTarget, 'address' | 'namespace' | 'codec' | 'transport' | 'profile'>): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect(connectionOptions(target));
  } catch (err) {
    throw await connectError(target, err);
  }
  return new Client({ connection, namespace: target.namespace, dataConverter: dataConverter(target.codec) });
}

export function workflowUiLink(target: Pick<TemporalTarget, 'uiUrl' | 'namespace'>, workflowId: string): string {
  return `${target.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(target.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
