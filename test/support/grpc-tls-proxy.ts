// A TLS front for the plain-text Temporal dev server, standing in for Temporal Cloud or a TLS
// terminating load balancer: an HTTP/2 TLS server (ALPN h2) that forwards each gRPC stream
// (headers, messages, trailers) to the dev server over h2c. It can demand a client certificate
// signed by its CA (mTLS) or an API key (`authorization: Bearer <key>`, else gRPC status 16
// UNAUTHENTICATED, as Temporal Cloud answers).
import {
  connect,
  constants,
  createSecureServer,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface GrpcTlsProxyOptions {
  /** host:port of the plain-text (h2c) gRPC server behind the proxy. */
  readonly upstream: string;
  /** PEM server certificate and key the proxy presents. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** With `requireClientCert`: the CA client certificates must chain to. */
  readonly ca?: Buffer;
  readonly requireClientCert?: boolean;
  /** When set, every call must carry `authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
}

export interface GrpcTlsProxy {
  readonly address: string;
  /** Calls refused for a missing or wrong API key. */
  readonly unauthenticated: () => number;
  close(): Promise<void>;
}

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_AUTHORITY, HTTP2_HEADER_SCHEME, NGHTTP2_CANCEL } = constants;

/** Request headers for the upstream: the session sets :authority and :scheme itself. */
function forwardedRequestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name === HTTP2_HEADER_AUTHORITY || name === HTTP2_HEADER_SCHEME || value === undefined) continue;
    out[name] = value;
  }
  return out;
}

function refuse(stream: ServerHttp2Stream, message: string): void {
  // A trailers-only gRPC response: HTTP 200 with the status in the (only) header block.
  stream.respond(
    { [HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': encodeURIComponent(message) },
    { endStream: true },
  );
}

export async function startGrpcTlsProxy(opts: GrpcTlsProxyOptions): Promise<GrpcTlsProxy> {
  let upstream: ClientHttp2Session | undefined;
  const session = (): ClientHttp2Session => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = connect(`http://${opts.upstream}`);
      upstream.on('error', () => undefined); // a failed session fails its streams, which answer the client
    }
    return upstream;
  };
  let refused = 0;

  const server = createSecureServer({
    cert: opts.cert,
    key: opts.key,
    allowHTTP1: false,
    ALPNProtocols: ['h2'],
    ...(opts.requireClientCert ? { ca: opts.ca, requestCert: true, rejectUnauthorized: true } : {}),
  });
  server.on('stream', (stream, headers) => {
    if (opts.apiKey !== undefined && headers.authorization !== `Bearer ${opts.apiKey}`) {
      refused++;
      refuse(stream, headers.authorization ? 'invalid API key' : 'missing API key');
      return;
    }
    const call = session().request({
      ...forwardedRequestHeaders(headers),
      [HTTP2_HEADER_METHOD]: headers[HTTP2_HEADER_METHOD] ?? 'POST',
      [HTTP2_HEADER_PATH]: headers[HTTP2_HEADER_PATH] ?? '/',
    });
    let trailers: OutgoingHttpHeaders = {};
    call.on('response', (responseHeaders) => {
      if (stream.destroyed) return;
      if (responseHeaders['grpc-status'] !== undefined) {
        // Trailers-only from upstream (an error before any message): pass it on as it came.
        stream.respond(responseHeaders, { endStream: true });
        return;
      }
      stream.respond(responseHeaders, { waitForTrailers: true });
      call.pipe(stream);
    });
    call.on('trailers', (t) => (trailers = t));
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.pipe(call);
    // Either side going away (a cancelled long poll, a dropped upstream) ends the other.
    stream.on('close', () => {
      if (!call.closed) call.close(NGHTTP2_CANCEL);
    });
    call.on('close', () => {
      if (!stream.closed && !stream.headersSent)
        stream.respond({ [HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc', 'grpc-status': '14' }, { endStream: true });
      else if (!stream.closed && call.rstCode !== undefined && call.rstCode !== 0) stream.close(call.rstCode);
    });
    call.on('error', () => undefined);
    stream.on('error', () => undefined);
  });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  // TLS handshakes that fail (no client certificate, an unknown CA) are the point of some tests.
  server.on('tlsClientError', () => undefined);
  server.on('sessionError', () => undefined);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    unauthenticated: () => refused,
    close: async () => {
      upstream?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Open client sessions (long polls) would otherwise hold close() forever.
        for (const s of sessions) s.destroy();
      });
    },
  };
}
