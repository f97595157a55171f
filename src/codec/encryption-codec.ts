// AES-256-GCM payload codec: every workflow input, result, signal and (with the failure converter
// below) failure message is encrypted before it reaches the Temporal server, so tokens forwarded
// by CI never rest in history in the clear. Keys carry ids so they can be rotated: the first key
// encrypts, every listed key decrypts.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { METADATA_ENCODING_KEY } from '@temporalio/common';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export class CodecKeyError extends Error {
  override name = 'CodecKeyError';
}

export interface KeyRing {
  readonly currentKeyId: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

/** Parses "id:base64key[,id2:base64key2…]" (first = current). Keys are 32 random bytes. */
export function parseKeyRing(spec: string, source = 'TAGSHIP_CODEC_KEYS'): KeyRing {
  const keys = new Map<string, Buffer>();
  let currentKeyId: string | undefined;
  for (const entry of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    if (!KEY_ID.test(id)) throw new CodecKeyError(`${source}: each entry must be <key-id>:<base64 key>; bad key id in entry ${keys.size + 1}`);
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    // The key itself is never echoed: only its id and length.
    if (key.length !== 32) throw new CodecKeyError(`${source}: key "${id}" is ${key.length} bytes; AES-256 needs 32 (openssl rand -base64 32)`);
    if (keys.has(id)) throw new CodecKeyError(`${source}: key id "${id}" appears twice`);
    keys.set(id, key);
    currentKeyId ??= id;
  }
  if (!currentKeyId) throw new CodecKeyError(`${source} is empty`);
  return { currentKeyId, keys };
}

/** The key ring from TAGSHIP_CODEC_KEYS or the file TAGSHIP_CODEC_KEYS_FILE; undefined when neither is set. */
export function keyRingFromEnv(env: NodeJS.ProcessEnv = process.env): KeyRing | undefined {
  if (env.TAGSHIP_CODEC_KEYS) return parseKeyRing(env.TAGSHIP_CODEC_KEYS);
  if (env.TAGSHIP_CODEC_KEYS_FILE) return parseKeyRing(readFileSync(env.TAGSHIP_CODEC_KEYS_FILE, 'utf8'), env.TAGSHIP_CODEC_KEYS_FILE);
  return undefined;
}

export function generateKeySpec(id = `k${Date.now().toString(36)}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

const utf8 = (s: string) => new TextEncoder().encode(s);

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly ring: KeyRing) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.ring.keys.get(this.ring.currentKeyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      // The whole payload (metadata included) is sealed; the key id is bound as associated data.
      cipher.setAAD(Buffer.from(this.ring.currentKeyId));
      const plain = Buffer.from(encodePayloadProto(payload));
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: utf8(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8(this.ring.currentKeyId) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return payload;
      const keyIdBytes = payload.metadata?.[KEY_ID_METADATA];
      const keyId = keyIdBytes ? Buffer.from(keyIdBytes).toString() : '';
      const key = this.ring.keys.get(keyId);
      if (!key) throw new CodecKeyError(`payload was encrypted with key "${keyId}", which this process does not have (TAGSHIP_CODEC_KEYS)`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new CodecKeyError('encrypted payload is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new CodecKeyError(`encrypted payload failed authentication with key "${keyId}" (wrong key or tampered data)`);
      }
      return decodePayloadProto(plain);
    });
  }
}

// A payload is serialised as its protobuf so metadata survives the round trip.
import proto from '@temporalio/proto';
const PayloadProto = proto.temporal.api.common.v1.Payload;

function encodePayloadProto(payload: Payload): Uint8Array {
  return PayloadProto.encode(payload).finish();
}

function decodePayloadProto(bytes: Uint8Array): Payload {
  return PayloadProto.decode(bytes);
}
