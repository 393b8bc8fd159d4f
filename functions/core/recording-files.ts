/** Where a recording's media lives in the bucket. The recorder's task role may write only this prefix. */
export const RECORDINGS_PREFIX = 'recordings/';

export function recordingPrefix(tenantId: string, recordingId: string): string {
  return `${RECORDINGS_PREFIX}${tenantId}/${recordingId}/`;
}

export function recordingMediaKey(tenantId: string, recordingId: string): string {
  return `${recordingPrefix(tenantId, recordingId)}recording.mp4`;
}
