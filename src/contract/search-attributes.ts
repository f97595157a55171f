// Search attributes that let the Temporal UI and `tagship release list` find releases. `tagship
// dev` registers them on its server; production namespaces need them once (see README).
import { defineSearchAttributeKey } from '@temporalio/common';

export const TAGSHIP_REPO = defineSearchAttributeKey('TagshipRepo', 'KEYWORD');
export const TAGSHIP_VERSION = defineSearchAttributeKey('TagshipVersion', 'KEYWORD');
export const TAGSHIP_STATUS = defineSearchAttributeKey('TagshipStatus', 'KEYWORD');

/** For `temporal server start-dev --search-attribute` and OperatorService.addSearchAttributes. */
export const SEARCH_ATTRIBUTE_TYPES: Readonly<Record<string, 'Keyword'>> = {
  TagshipRepo: 'Keyword',
  TagshipVersion: 'Keyword',
  TagshipStatus: 'Keyword',
};
