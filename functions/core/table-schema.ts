/**
 * The table's key schema, written once: the CDK storage construct creates the table with it, local mode
 * creates the emulator's table with it, and the repository builds keys for it.
 */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk' } as const;

/** Items of one recording share its partition: the recording itself ('RECORDING') and its upload manifest ('UPLOAD'). */
export type RecordingItemKind = 'RECORDING' | 'UPLOAD';

export function recordingItemKey(recordingId: string, kind: RecordingItemKind = 'RECORDING'): Record<string, string> {
  return { [TABLE_KEYS.partitionKey]: `RECORDING#${recordingId}`, [TABLE_KEYS.sortKey]: kind };
}

/** An item as stored, without its key attributes. */
export function withoutTableKeys(item: Record<string, unknown>): Record<string, unknown> {
  const { [TABLE_KEYS.partitionKey]: _pk, [TABLE_KEYS.sortKey]: _sk, ...rest } = item;
  return rest;
}
