/** Starts a real local stack (emulators over HTTP, local Step Functions, recorder processes) in a temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordingApiClient } from '../../local/api-client.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/local-stack.ts';

export interface TestStack {
  stack: LocalStack;
  api: RecordingApiClient;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTestStack(opts: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mr-test-'));
  const stack = await startLocalStack({ dataDir, port: 0, ...opts });
  return {
    stack,
    api: new RecordingApiClient(stack.url),
    dataDir,
    async stop() {
      await stack.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
