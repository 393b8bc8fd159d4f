/**
 * The recorder deletes a part's pending segments in one DeleteObjects call once the part is uploaded. s3rver
 * deleted the keys of one call in parallel, and each then removed the folder it left empty: two of them
 * raced on the same folder and the call failed with an internal error (the recorder logged "could not
 * delete pending segments" in nearly every bench recording, and the segments stayed on disk). Real s3rver.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { expect, it } from 'vitest';
import { deleteObjects, pendingSegmentKey } from '../../functions/core/media-upload.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from '../../local/emulators.ts';

it('deletes of all the keys in one folder, in one DeleteObjects call or in concurrent calls, all succeed at the first attempt', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mr-s3-deletes-'));
  const emulators = await startEmulators({ dataDir });
  // One attempt per call, as the recorder's uploader makes them (the SDK's retries hid the failure).
  const s3 = new S3Client({ endpoint: emulators.s3Endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true, maxAttempts: 1 });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'media' }));
    for (let round = 0; round < 20; round++) {
      // As the recorder writes them: the segments of one part, 3 s of media each, in the part's folder.
      const keys = Array.from({ length: 2 + (round % 4) }, (_, i) => pendingSegmentKey(`recordings/local/rec_${round}/recording.mp4`, 1, i, i * 3));
      for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket: 'media', Key, Body: Buffer.alloc(1_200_000 + round * 1000) }));
      if (round % 2) await deleteObjects(s3, 'media', keys);
      else await Promise.all(keys.map((Key) => s3.send(new DeleteObjectCommand({ Bucket: 'media', Key }))));
      const left = await s3.send(new ListObjectsV2Command({ Bucket: 'media', Prefix: `recordings/local/rec_${round}/` }));
      expect(left.KeyCount ?? 0).toBe(0);
    }
  } finally {
    s3.destroy();
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
