// The one data converter clients and workers share; without a key ring payloads stay plain JSON
// (local development), with one everything is encrypted, failure messages included.
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, type KeyRing } from './encryption-codec';

// Loaded by path: the workflow sandbox and the client each import it themselves.
// Beside this module: .ts in a source checkout (tsx), .js in the compiled build (dist/).
export const failureConverterPath = fileURLToPath(new URL(`./failure-converter.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));

export function dataConverter(ring: KeyRing | undefined): DataConverter {
  return ring ? { payloadCodecs: [new EncryptionCodec(ring)], failureConverterPath } : {};
}
