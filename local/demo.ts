/**
 * `npm run demo`: starts local mode, records the bundled demo meeting for about 10 s through the public
 * API, and prints where the MP4 is (in local S3, and as a copy on disk).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { RecordingApiClient } from './api-client.ts';
import { parseFlagsOrExit } from './cli-args.ts';
import { MissingPrerequisitesError, startLocalStack } from './local-stack.ts';

const USAGE = 'Usage: npm run demo -- [--seconds 10] [--data-dir .local/data] [--port 0]';

async function main() {
  const flags = parseFlagsOrExit(process.argv.slice(2), { seconds: 'number', 'data-dir': 'string', port: 'number' }, USAGE);
  const seconds = Number(flags.seconds ?? 10);
  if (seconds < 1 || seconds > 3600) {
    console.error('--seconds must be between 1 and 3600.');
    process.exit(2);
  }
  const dataDir = resolve(String(flags['data-dir'] ?? '.local/data'));
  const t0 = Date.now();
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

  let stack;
  try {
    stack = await startLocalStack({ dataDir, port: Number(flags.port ?? 0) });
  } catch (err) {
    if (err instanceof MissingPrerequisitesError) {
      console.error(err.message);
      process.exit(3);
    }
    throw err;
  }
  try {
    const api = new RecordingApiClient(stack.url, stack.apiKey);
    console.log(`[${elapsed()}] local stack up at ${stack.url}; recording ${stack.demoUrl} for ${seconds} s`);
    const created = await api.create(stack.demoUrl, 'demo-meeting');
    if (created.status !== 201) throw new Error(`POST /v1/recordings answered ${created.status}: ${JSON.stringify(created.body)}`);
    const id = created.body.id;
    const live = await api.waitFor(id, ['RECORDING'], 60_000);
    if (live.status !== 'RECORDING') throw new Error(`Recording ${id} ended ${live.status}: ${JSON.stringify(live.error)}`);
    console.log(`[${elapsed()}] ${id} is RECORDING`);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const stopped = await api.stop(id);
    if (stopped.status !== 202) throw new Error(`stop answered ${stopped.status}: ${JSON.stringify(stopped.body)}`);
    const done = await api.waitFor(id, ['UPLOADED'], 60_000);
    if (done.status !== 'UPLOADED') throw new Error(`Recording ${id} ended ${done.status}: ${JSON.stringify(done.error)}`);
    const file = done.files![0];
    console.log(`[${elapsed()}] ${id} is UPLOADED: ${file.durationSeconds.toFixed(1)} s, ${(file.sizeBytes / 1e6).toFixed(2)} MB`);
    const links = await api.download(id);
    const bytes = Buffer.from(await (await fetch(links.body.files[0].url)).arrayBuffer());
    const outDir = resolve(dataDir, '..', 'recordings');
    mkdirSync(outDir, { recursive: true });
    const outPath = resolve(outDir, `${id}.mp4`);
    writeFileSync(outPath, bytes);
    console.log(`
The recording is in local S3:  s3://${stack.bucketName}/${file.key}
Presigned download URL:        ${links.body.files[0].url}
A copy on disk:                ${outPath}
Play it with: ffplay ${outPath}   (or open it in any video player)`);
  } finally {
    await stack.stop();
  }
}

try {
  await main();
  process.exit(0);
} catch (err) {
  console.error(`Demo failed: ${(err as Error).message}`);
  process.exit(1);
}
