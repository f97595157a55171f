import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { CodecKeyError, EncryptionCodec, generateKeySpec, parseKeyRing } from '../../src/codec/encryption-codec';

const SECRET = 'pypi-AgEIcHlwaS5vcmcCJGZha2UtdG9rZW4tdmFsdWU';

describe('AES-256-GCM payload codec', () => {
  const ring = parseKeyRing(generateKeySpec('k1'));
  const codec = new EncryptionCodec(ring);
  const payload = defaultPayloadConverter.toPayload({ tag: 'v1.0.18', pypiOidcToken: SECRET });

  it('encrypts so the secret is not in the bytes, and decrypts to the same payload', async () => {
    const [encoded] = await codec.encode([payload]);
    assert.ok(!Buffer.from(encoded!.data!).toString('latin1').includes(SECRET));
    assert.equal(Buffer.from(encoded!.metadata!.encoding!).toString(), 'binary/encrypted');
    assert.equal(Buffer.from(encoded!.metadata!['encryption-key-id']!).toString(), 'k1');
    const [decoded] = await codec.decode([encoded!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { tag: 'v1.0.18', pypiOidcToken: SECRET });
  });

  it('uses a fresh IV each time', async () => {
    const [a] = await codec.encode([payload]);
    const [b] = await codec.encode([payload]);
    assert.notDeepEqual(Buffer.from(a!.data!), Buffer.from(b!.data!));
  });

  it('rotates: a new current key encrypts, the old key still decrypts old payloads', async () => {
    const [old] = await codec.encode([payload]);
    const k1 = [...ring.keys.entries()][0]!;
    const rotated = new EncryptionCodec(parseKeyRing(`${generateKeySpec('k2')},k1:${k1[1].toString('base64')}`));
    const [fresh] = await rotated.encode([payload]);
    assert.equal(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString(), 'k2');
    assert.deepEqual(defaultPayloadConverter.fromPayload((await rotated.decode([old!]))[0]!), { tag: 'v1.0.18', pypiOidcToken: SECRET });
  });

  it('names the missing key id, and refuses tampered data', async () => {
    const [encoded] = await codec.encode([payload]);
    const other = new EncryptionCodec(parseKeyRing(generateKeySpec('k9')));
    await assert.rejects(other.decode([encoded!]), /encrypted with key "k1", which this process does not have/);
    const tampered = Buffer.from(encoded!.data!);
    tampered[20] = tampered[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...encoded!, data: tampered }]), /failed authentication with key "k1"/);
  });

  it('leaves plain payloads (written before encryption was turned on) readable', async () => {
    const [decoded] = await codec.decode([payload]);
    assert.deepEqual(decoded, payload);
  });

  it('rejects bad key specs without echoing key material', () => {
    assert.throws(
      () => parseKeyRing('k1:c2hvcnQ='),
      (e: unknown) => e instanceof CodecKeyError && /key "k1" is 5 bytes/.test(e.message) && !e.message.includes('c2hvcnQ'),
    );
    assert.throws(() => parseKeyRing('nocolon'), /<key-id>:<base64 key>/);
    assert.throws(() => parseKeyRing(`${generateKeySpec('a')},${generateKeySpec('a')}`), /"a" appears twice/);
    assert.throws(() => parseKeyRing(' , '), /is empty/);
  });
});
