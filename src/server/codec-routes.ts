// The Temporal codec server protocol (POST /encode, /decode with proto3-JSON payloads) so the
// Temporal UI and CLI can show encrypted payloads to people allowed to see them.
import type { FastifyInstance } from 'fastify';
import type { Payload } from '@temporalio/common';
import { z } from 'zod';
import { EncryptionCodec, type KeyRing } from '../codec/encryption-codec';
import { parseJsonBody } from './http-app';

const jsonPayloads = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() })).max(1000),
});
type JsonPayload = z.infer<typeof jsonPayloads>['payloads'][number];

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

export function registerCodecRoutes(app: FastifyInstance, ring: KeyRing, authorize: (header: string | undefined) => boolean): void {
  const codec = new EncryptionCodec(ring);
  for (const op of ['encode', 'decode'] as const) {
    const handler = async (req: { headers: Record<string, unknown>; body: unknown }, reply: { code(n: number): { send(b: unknown): unknown } }) => {
      if (!authorize(req.headers.authorization as string | undefined)) return reply.code(401).send({ error: 'codec access needs an authorized bearer token' });
      const body = parseJsonBody(req.body);
      if (!body.ok) return reply.code(400).send({ error: 'body is not valid JSON' });
      const parsed = jsonPayloads.safeParse(body.value);
      if (!parsed.success) return reply.code(400).send({ error: 'body must be {"payloads": [{"metadata": {...}, "data": "<base64>"}]}' });
      try {
        const out = await codec[op](parsed.data.payloads.map(fromJson));
        return reply.code(200).send({ payloads: out.map(toJson) });
      } catch (err) {
        return reply.code(422).send({ error: (err as Error).message });
      }
    };
    app.post(`/codec/${op}`, handler);
    // The CLI's --codec-endpoint may template the namespace into the path.
    app.post(`/codec/:namespace/${op}`, handler);
  }
}
