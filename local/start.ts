/** `npm start`: the whole service on 127.0.0.1, with persistent local data. */
import { join, resolve } from 'node:path';
import { parseFlagsOrExit } from './cli-args.ts';
import { API_KEY_FILE } from './local-credentials.ts';
import { LOCAL_MAX_CONCURRENT_RECORDINGS, MissingPrerequisitesError, startLocalStack } from './local-stack.ts';
import { ENV, intEnv } from '#core/config.ts';

const USAGE = `Usage: npm start -- [--port 8080] [--data-dir .local/data]`;

async function main() {
  const flags = parseFlagsOrExit(process.argv.slice(2), { port: 'number', 'data-dir': 'string' }, USAGE);
  const dataDir = resolve(String(flags['data-dir'] ?? process.env.LOCAL_DATA_DIR ?? '.local/data'));
  const port = Number(flags.port ?? process.env.PORT ?? 8080);
  let stack;
  try {
    // ALLOWED_HOSTS opens more hosts to the SSRF policy than the demo page's (e.g. a meeting app on your LAN).
    const allowedHosts = (process.env.ALLOWED_HOSTS ?? '').split(',');
    // MAX_CONCURRENT_RECORDINGS: most recordings live at once (4 unless set).
    const maxConcurrentRecordings = intEnv(ENV.maxConcurrentRecordings, LOCAL_MAX_CONCURRENT_RECORDINGS);
    stack = await startLocalStack({
      dataDir,
      port,
      allowedHosts,
      maxConcurrentRecordings,
      log: (message, fields) => console.log(JSON.stringify({ message, ...fields })),
    });
  } catch (err) {
    if (err instanceof MissingPrerequisitesError) {
      console.error(err.message);
      process.exit(3);
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`Port ${port} is already in use. Choose another with --port or PORT=...`);
      process.exit(2);
    }
    throw err;
  }
  const keyFile = join(dataDir, API_KEY_FILE);
  console.log(`
Meeting recorder (local mode) is running.
  API:       ${stack.url}/v1/recordings
  Demo page: ${stack.demoUrl}
  Data:      ${dataDir}
  API key:   ${stack.apiKey}
             (tenant '${stack.tenantId}'${stack.apiKeyCreated ? ', new' : ''}; saved in ${keyFile}; manage keys with npm run api-keys)

Record the demo meeting:
  KEY=$(cat ${keyFile})
  curl -s -X POST ${stack.url}/v1/recordings -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '{"meetingUrl":"${stack.demoUrl}"}'
  curl -s -X POST ${stack.url}/v1/recordings/<id>/stop -H "authorization: Bearer $KEY"
  curl -s ${stack.url}/v1/recordings/<id>/download -H "authorization: Bearer $KEY"

Press Ctrl+C to stop (live recordings are finalized first).`);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, async () => {
      if (stopping) process.exit(130);
      stopping = true;
      console.log('Stopping: finalizing live recordings...');
      await stack.stop();
      process.exit(0);
    });
  }
}

await main();
