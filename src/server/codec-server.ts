// A stand-alone codec endpoint for the embedded stack's Temporal UI: the dev server's UI is
// pointed at it (--ui-codec-endpoint), so its pages show decrypted payloads and the live step
// table. It listens on 127.0.0.1 only and needs no token there, as a developer's own UI cannot
// send one; production uses `tagship server`, whose codec endpoint requires a token.
import type { KeyRing } from '../codec/encryption-codec';
import { registerCodecRoutes } from './codec-routes';
import { createHttpApp } from './http-app';

export interface LocalCodecServer {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startLocalCodecServer(codec: KeyRing, port: number, uiOrigins: readonly string[]): Promise<LocalCodecServer> {
  const app = await createHttpApp({ bodyLimit: 8 * 1024 * 1024, corsOrigins: uiOrigins });
  registerCodecRoutes(app, codec, () => true);
  await app.listen({ host: '127.0.0.1', port });
  return { endpoint: `http://127.0.0.1:${port}/codec`, stop: () => app.close() };
}
