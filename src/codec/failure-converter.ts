// Failure messages and stack traces go to history as encoded payloads too (encodeCommonAttributes):
// an error that quotes a token or URL with credentials is then encrypted like any other payload.
// Loaded by path into the workflow sandbox (failureConverterPath), hence its own module.
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
