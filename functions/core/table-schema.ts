/**
 * The table's key schema, written once: the CDK storage construct creates the table with it, local mode
 * creates the emulator's table with it, and the repository builds keys for it.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;
