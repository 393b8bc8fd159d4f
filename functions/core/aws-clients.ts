/**
 * Deprecated: the client factories live in functions/core/clients/, one module per client, so that a
 * Lambda bundle loads only the clients it uses. Lambda code must not import this module (it loads every
 * client). It stays only until recorder-image/src/main.ts imports from clients/ (that file has another
 * change in progress); then delete it.
 */
export { createDocumentClient } from './clients/dynamodb.ts';
export { createS3Client } from './clients/s3.ts';
export { createSfnClient } from './clients/sfn.ts';
export { createEventBridgeClient } from './clients/eventbridge.ts';
export { createSqsClient } from './clients/sqs.ts';
