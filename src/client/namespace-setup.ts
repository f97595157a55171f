// Registers tagship's search attributes on a namespace (idempotent): what `tagship setup` does for
// a production cluster; `tagship dev` registers them when it starts its server.
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_TYPES } from '../contract/search-attributes';

const { IndexedValueType } = proto.temporal.api.enums.v1;

export async function ensureSearchAttributes(client: Client, namespace: string): Promise<{ added: string[]; present: string[] }> {
  const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = Object.keys(SEARCH_ATTRIBUTE_TYPES).filter((name) => !have.has(name));
  if (missing.length > 0) {
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  }
  return { added: missing, present: [...have].filter((n) => n in SEARCH_ATTRIBUTE_TYPES) };
}
