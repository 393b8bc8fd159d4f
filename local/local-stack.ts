/**
 * The whole service on one machine: AWS with stand-ins (see ARCHITECTURE.md, "Local mode").
 *   API Gateway + Lambda  -> LocalHttpApi calling the same handlers
 *   DynamoDB, S3          -> dynalite, s3rver over HTTP (data under dataDir)
 *   Step Functions        -> LocalStepFunctions running the same ASL
 *   ECS RunTask (Fargate) -> the recorder program as a local process, same environment contract
 *   Streams, EventBridge, SQS -> the same outbox publisher, a local bus and delivery queue (local-events.ts)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '#core/clients/dynamodb.ts';
import { ENV } from '#core/config.ts';
import { parseAllowedHosts } from '#core/url-policy.ts';
import { RecordingRepository } from '#core/recording-repository.ts';
import { TERMINAL_STATUSES, type Recording } from '#core/recording.ts';
import { failRecording } from '#core/workflow-outcome.ts';
import { credentialStore, resetRuntime } from '#core/runtime.ts';
import { meetingEventDeps } from '#core/runtime-workflow.ts';
import { salvageDeps } from '#core/runtime-media.ts';
import { useWebhookDelivery, webhookDeliverer } from '#core/runtime-webhooks.ts';
import { handleMeetingEvent, meetingTriggerPattern } from '#core/meeting-events.ts';
import { OutboxPublisher } from '#core/outbox.ts';
import { DEFAULT_EVENT_SOURCE, webhookFanOutPattern, type RecordingStatusChangedDetail } from '#core/recording-events.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '#core/webhooks/retry-policy.ts';
import type { WebhookClock } from '#core/webhooks/webhook-deliverer.ts';
import { LocalDeliveryQueue, LocalEventBus, OutboxLoop, recoverPendingDeliveries } from './local-events.ts';
import { describeMissing, missingPrerequisites } from '#recorder/preflight.ts';
import { RECORDER_LAUNCH_STATES, recordingWorkflowDefinition, STATE } from '../workflow/recording-workflow.ts';
import { WORKFLOW_TASKS } from '../functions/routes.ts';
import { DEMO_PAGE_HTML } from './demo-page.ts';
import { ensureResources, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators, type Emulators } from './emulators.ts';
import { answerClientError, lambdaContext, LocalHttpApi, MAX_BODY_BYTES } from './http-api.ts';
import { localRecorderTasks, type LocalRecorderTasks } from './local-recorder-task.ts';
import { LocalStepFunctions, type CallbackLauncher, type LocalTaskHandler } from './local-step-functions.ts';
import { ensureLocalApiKey, LOCAL_TENANT_ID, removeLocalEndpoints, writeLocalEndpoints } from './local-credentials.ts';

export interface LocalStackOptions {
  /** Where DynamoDB and S3 keep their data, and recorder logs go. */
  dataDir: string;
  /** API port on 127.0.0.1 (0 picks a free one). @default 8080 */
  port?: number;
  /** Extra recorder container variables (VIDEO_WIDTH, X264_PRESET, ...). */
  recorderEnv?: Record<string, string>;
  /**
   * SSRF allowlist entries (`host`, `host:port`, `*.domain`) opened besides public addresses, for the API
   * and the recorders alike. The demo page's host (this server) is always open.
   * @default []
   */
  allowedHosts?: readonly string[];
  /** Shortens the workflow's HeartbeatSeconds (for tests of lost recorders). */
  heartbeatSecondsOverride?: number;
  /**
   * Most recordings live at once (MAX_CONCURRENT_RECORDINGS); a start beyond it gets 429
   * concurrency_limit_reached. A recorder (Chromium, ffmpeg) at 720p30 keeps about half a core busy
   * (bench/results/latest.json), so 4 fill a 2-core machine; more would drop frames.
   * @default 4
   */
  maxConcurrentRecordings?: number;
  /**
   * Replaces the local RunTask (a recorder process per recording), for tests of the API and the workflow that
   * need no real recorder. The launcher gets the RunTask parameters and the task token to answer.
   * @default - a recorder process per recording (local-recorder-task.ts)
   */
  runTask?: CallbackLauncher;
  /** The `source` of status events on the bus. @default 'meeting-recorder' */
  eventSource?: string;
  /** How often the outbox is polled (the emulator has no streams). @default 250 */
  outboxIntervalMs?: number;
  /** Webhook retry timing (tests shorten it); and the deliverer's clock. @default DEFAULT_RETRY_POLICY */
  webhookRetryPolicy?: Partial<RetryPolicy>;
  webhookClock?: WebhookClock;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface LocalStack {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:8080 */
  url: string;
  /** The bundled demo meeting page. */
  demoUrl: string;
  emulators: Emulators;
  stepFunctions: LocalStepFunctions;
  recorders: LocalRecorderTasks;
  repository: RecordingRepository;
  /**
   * The custom event bus: add rules (EventBridge patterns) to receive status events; `put` a "Meeting Started"
   * or "Meeting Ended" event to start or stop a recording.
   */
  eventBus: LocalEventBus;
  /** The outbox publisher's loop (pause it to act out a crashed publisher). */
  outbox: OutboxLoop;
  /** The webhook delivery queue (in memory) and its dead letters. */
  webhookQueue: LocalDeliveryQueue;
  /** Tenant `local`'s API key (also in `<dataDir>/api-key`): what clients send as `Authorization: Bearer`. */
  apiKey: string;
  /** True when this start created `apiKey` (a new data dir, or the saved key was revoked). */
  apiKeyCreated: boolean;
  tenantId: string;
  tableName: string;
  bucketName: string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
export const LOCAL_TABLE = 'meeting-recorder-local';
export const LOCAL_BUCKET = 'meeting-recorder-local';
const LOCAL_ACCOUNT = '000000000000';
/** Local mode's MAX_CONCURRENT_RECORDINGS unless told otherwise (LocalStackOptions.maxConcurrentRecordings). */
export const LOCAL_MAX_CONCURRENT_RECORDINGS = 4;

export class MissingPrerequisitesError extends Error {}

export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const log = opts.log ?? (() => undefined);
  parseAllowedHosts(opts.allowedHosts); // a bad allowlist entry fails before anything starts
  const missing = missingPrerequisites();
  if (missing.length) throw new MissingPrerequisitesError(describeMissing(missing));

  const emulators = await startEmulators({ dataDir: opts.dataDir });
  await ensureResources(emulators, LOCAL_TABLE, LOCAL_BUCKET);

  const sfnServer = await listen(createServer(), 0);
  const sfnEndpoint = `http://${HOST}:${(sfnServer.address() as AddressInfo).port}`;
  const stateMachineArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:meeting-recorder-local`;

  // The environment contract, as CDK sets it on the functions and the task definition.
  const awsEnv: Record<string, string> = {
    [ENV.tableName]: LOCAL_TABLE,
    [ENV.bucketName]: LOCAL_BUCKET,
    [ENV.stateMachineArn]: stateMachineArn,
    [ENV.dynamodbEndpoint]: emulators.dynamodbEndpoint,
    [ENV.s3Endpoint]: emulators.s3Endpoint,
    [ENV.sfnEndpoint]: sfnEndpoint,
    [ENV.s3ForcePathStyle]: 'true',
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
  Object.assign(process.env, awsEnv);
  // No authentication cache locally: a key revoked with the api-keys CLI stops working at once.
  process.env[ENV.authCacheSeconds] = '0';
  process.env[ENV.maxConcurrentRecordings] = String(opts.maxConcurrentRecordings ?? LOCAL_MAX_CONCURRENT_RECORDINGS);
  // Handlers hosted earlier in this process (a previous stack) built clients for old endpoints.
  resetRuntime();
  // Webhook attempts go to an in-process queue instead of SQS (same deliverer, same retry code).
  const webhookQueue = new LocalDeliveryQueue({ log });
  useWebhookDelivery({
    scheduler: webhookQueue,
    deadLetters: webhookQueue,
    policy: { ...DEFAULT_RETRY_POLICY, ...opts.webhookRetryPolicy },
    clock: opts.webhookClock,
  });

  const containerEnv: Record<string, string> = { ...awsEnv, VIDEO_WIDTH: '1280', VIDEO_HEIGHT: '720', VIDEO_FPS: '30', ...opts.recorderEnv };
  const recorders = localRecorderTasks({
    containerEnv,
    logDir: join(opts.dataDir, 'logs'),
  });

  const lambda = async (name: string): Promise<LocalTaskHandler> => {
    const { handler } = await import(`../functions/tasks/${name}.ts`);
    // lambda:invoke's result shape; the definition discards it (ResultPath null).
    return async (input: { Payload: unknown }) => ({ StatusCode: 200, Payload: await handler(input.Payload, lambdaContext(name)) });
  };
  const stepFunctions = new LocalStepFunctions({
    definition: recordingWorkflowDefinition({
      clusterArn: `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:cluster/local`,
      taskDefinitionArn: `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:task-definition/recorder:1`,
      subnetIds: ['subnet-local'],
      securityGroupIds: ['sg-local'],
      assignPublicIp: true,
      markUploadedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${WORKFLOW_TASKS.markUploaded}`,
      markErroredFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${WORKFLOW_TASKS.markErrored}`,
    }),
    stateMachineArn,
    tasks: {
      [STATE.markUploaded]: await lambda(WORKFLOW_TASKS.markUploaded),
      [STATE.markErrored]: await lambda(WORKFLOW_TASKS.markErrored),
    },
    // Every state that launches the recorder (RunRecorderOnDemand exists only in the Spot definition, not used locally).
    callbacks: Object.fromEntries(RECORDER_LAUNCH_STATES.map((state) => [state, opts.runTask ?? recorders.launch])),
    heartbeatSecondsOverride: opts.heartbeatSecondsOverride,
    log,
  });
  sfnServer.on('request', (req, res) => readBody(req, res, (body) => stepFunctions.handleHttp(req, res, body?.toString('utf8') ?? '')));

  const repository = new RecordingRepository(createDocumentClient(), LOCAL_TABLE);
  const { apiKey, created: apiKeyCreated } = await ensureLocalApiKey(credentialStore(), opts.dataDir);
  writeLocalEndpoints(opts.dataDir, { dynamodbEndpoint: emulators.dynamodbEndpoint, tableName: LOCAL_TABLE, pid: process.pid });
  await endOrphanedRecordings(repository, log);

  const api = new LocalHttpApi();
  await api.load();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/demo' || path === '/demo/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return res.end(DEMO_PAGE_HTML);
    }
    if (path === '/' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ service: 'meeting-recorder (local mode)', api: '/v1/recordings', demo: '/demo' }));
    }
    readBody(req, res, (body, tooLarge) => api.handle(req, res, body, tooLarge));
  });
  server.on('clientError', answerClientError);
  await listen(server, opts.port ?? 8080);
  const url = `http://${HOST}:${(server.address() as AddressInfo).port}`;
  // The SSRF allowlist, for the handlers and (like the task definition's variables) the recorders: the demo
  // page's host and port, and what the caller opened. Set before the first request can arrive.
  const allowedHosts = [new URL(url).host, ...(opts.allowedHosts ?? [])].map((e) => e.trim()).filter(Boolean).join(',');
  process.env[ENV.allowedHosts] = allowedHosts;
  containerEnv[ENV.allowedHosts] = allowedHosts;

  // Status events: the outbox (written by every transition, here or in a recorder process) -> the bus ->
  // the webhook rule -> deliveries. Built after ALLOWED_HOSTS is set: the deliverer checks webhook URLs.
  const eventSource = opts.eventSource ?? DEFAULT_EVENT_SOURCE;
  const eventBus = new LocalEventBus({ account: LOCAL_ACCOUNT, region: LOCAL_REGION });
  webhookQueue.bind(webhookDeliverer());
  const recovered = await recoverPendingDeliveries(createDocumentClient(), LOCAL_TABLE, webhookQueue);
  if (recovered > 0) log('webhook deliveries rescheduled after a restart', { count: recovered });
  eventBus.addRule({
    name: 'webhook-fan-out',
    pattern: webhookFanOutPattern(eventSource),
    target: async (event) => void (await webhookDeliverer().fanOut(event.detail as RecordingStatusChangedDetail)),
  });
  // Auto-start: customers' "Meeting Started" / "Meeting Ended" events -> the same handler as the AWS rule's.
  eventBus.addRule({
    name: 'meeting-triggers',
    pattern: meetingTriggerPattern(eventSource),
    target: async (event) => void (await handleMeetingEvent({ ...meetingEventDeps(), log: (level, message, fields) => log(message, { level, ...fields }) }, event)),
  });
  const outbox = new OutboxLoop(new OutboxPublisher({ db: createDocumentClient(), tableName: LOCAL_TABLE, sink: eventBus, source: eventSource }), {
    intervalMs: opts.outboxIntervalMs,
    log,
  });
  outbox.start();
  log('local stack ready', { url, dataDir: opts.dataDir });

  return {
    url,
    demoUrl: `${url}/demo`,
    emulators,
    stepFunctions,
    recorders,
    repository,
    eventBus,
    outbox,
    webhookQueue,
    apiKey,
    apiKeyCreated,
    tenantId: LOCAL_TENANT_ID,
    tableName: LOCAL_TABLE,
    bucketName: LOCAL_BUCKET,
    async stop() {
      // Like ECS StopTask: recorders get SIGTERM and finalize; their results still reach the workflow.
      await recorders.stopAll();
      await stepFunctions.settled(10_000);
      stepFunctions.stopAll();
      await Promise.all([close(server), close(sfnServer)]);
      await outbox.stop();
      await webhookQueue.stop();
      useWebhookDelivery(undefined);
      removeLocalEndpoints(opts.dataDir);
      await emulators.stop();
    },
  };
}

/** Recordings that were live when local mode last stopped have no recorder any more: end them, never leave them stuck. */
async function endOrphanedRecordings(repository: RecordingRepository, log: NonNullable<LocalStackOptions['log']>): Promise<void> {
  const db = createDocumentClient();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: LOCAL_TABLE, ExclusiveStartKey: startKey }));
    for (const item of (page.Items ?? []) as Recording[]) {
      if (item.id?.startsWith('rec_') && !TERMINAL_STATUSES.includes(item.status)) {
        await failRecording(repository, item.id, { Error: 'States.HeartbeatTimeout', Cause: 'Local mode was restarted while this recording was live.' }, salvageDeps());
        log('ended orphaned recording', { recordingId: item.id });
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

function readBody(req: IncomingMessage, res: ServerResponse, then: (body: Buffer | undefined, tooLarge: boolean) => Promise<void>): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  });
  req.on('end', () => {
    then(chunks.length ? Buffer.concat(chunks) : undefined, tooLarge).catch((err) => {
      console.error(err);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500, code: 'internal_error' }));
    });
  });
}

function listen(server: Server, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
