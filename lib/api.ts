import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ROUTES } from '../functions/routes.ts';
import type { RouteDefinition } from '../functions/routes.ts';
import { DEFAULT_MAX_CONCURRENT_RECORDINGS, ENV } from '../functions/core/config.ts';
import type { Events } from './events.ts';
import { HouseFunction } from './house-function.ts';
import { grantRecordingMedia } from './recorder.ts';
import { grantCredentialReads } from './table-access.ts';
import type { ItemAction, TableAccess } from './table-access.ts';

/**
 * JSON access log with HTTP API context variables only (the REST API default format uses variables HTTP APIs
 * lack). `caller` and `user` are set only under an IAM `defaultAuthorizer`; API keys and tokens are checked in
 * the functions, which log their principal (never a secret).
 */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTime',
    sourceIp: '$context.identity.sourceIp',
    caller: '$context.identity.caller',
    user: '$context.identity.user',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
  }),
);

/** What one route's function may do, and nothing more. */
interface RouteAccess {
  /** Item actions per item kind (`dynamodb:LeadingKeys`) and the indexes it queries (lib/table-access.ts). */
  readonly table: TableAccess;
  readonly startExecution?: boolean;
  /** Object actions on `recordings/*`. */
  readonly recordings?: readonly string[];
  /** ListBucket, limited to the `recordings/` prefix (to find a recording's leftover objects). */
  readonly listRecordings?: boolean;
  /** SendMessage on the webhook delivery queue. */
  readonly scheduleWebhooks?: boolean;
}

/** Every POST remembers its answer under its Idempotency-Key (functions/core/idempotency.ts): claim, replay, release. */
const IDEMPOTENT_POST: readonly ItemAction[] = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];
const READ: readonly ItemAction[] = ['dynamodb:GetItem'];

/**
 * Least-privilege grants per handler module. A route in ROUTES without an entry here fails synth, so a new
 * route cannot ship with accidental (or missing) permissions. Reading credentials (authentication) is granted
 * to every route separately (grantCredentialReads).
 */
const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  // The recording is a PutItem; the meeting lock is an item, taken with a conditional PutItem, read when it
  // is stale, and released with a conditional DeleteItem when the start fails. The live-recording set (the
  // concurrency limit) is one item: a conditional UpdateItem adds to it, GetItem and UpdateItem drop stale
  // entries, PutItem creates it on first use.
  'create-recording': {
    table: { items: IDEMPOTENT_POST, partitions: ['idempotency', 'recording', 'meetingLock', 'liveRecordings'] },
    startExecution: true,
  },
  'list-recordings': { table: { query: ['byTenant', 'byMeeting', 'byStatus'] } },
  'get-recording': { table: { items: READ, partitions: ['recording'] } },
  // The recording and its upload manifest (same partition).
  'delete-recording': {
    table: { items: ['dynamodb:GetItem', 'dynamodb:DeleteItem'], partitions: ['recording'] },
    recordings: ['s3:DeleteObject'],
    listRecordings: true,
  },
  // Desired-state requests are conditional UpdateItems on the recording.
  'stop-recording': { table: { items: IDEMPOTENT_POST, partitions: ['idempotency', 'recording'] } },
  'pause-recording': { table: { items: IDEMPOTENT_POST, partitions: ['idempotency', 'recording'] } },
  'resume-recording': { table: { items: IDEMPOTENT_POST, partitions: ['idempotency', 'recording'] } },
  'get-recording-download': { table: { items: READ, partitions: ['recording'] }, recordings: ['s3:GetObject'] },
  'get-active-recording': { table: { items: READ, partitions: ['meetingLock', 'recording'] } },
  // The tenant's signing secret is a credential item (read through grantCredentialReads).
  'create-token': { table: { items: IDEMPOTENT_POST, partitions: ['idempotency'] } },
  'get-openapi': { table: {} },
  // Subscriptions are listed from the byTenant index (the per-tenant limit, the list).
  'create-webhook': { table: { items: IDEMPOTENT_POST, partitions: ['idempotency', 'webhook'], query: ['byTenant'] } },
  'list-webhooks': { table: { query: ['byTenant'] } },
  'delete-webhook': { table: { items: ['dynamodb:GetItem', 'dynamodb:DeleteItem'], partitions: ['webhook'] } },
  'list-webhook-deliveries': { table: { items: READ, partitions: ['webhook'], query: ['byTenant'] } },
  'test-webhook': { table: { items: IDEMPOTENT_POST, partitions: ['idempotency', 'webhook'] }, scheduleWebhooks: true },
};

export interface RecordingApiProps {
  readonly table: dynamodb.ITable;
  readonly bucket: s3.IBucket;
  readonly stateMachine: sfn.IStateMachine;
  /**
   * The webhook delivery path, for the routes that schedule deliveries.
   * @default - no webhook routes can send (they fail at run time)
   */
  readonly events?: Events;
  /**
   * Days the bucket keeps media (its lifecycle rule); download URLs never outlive a file.
   * @default 7
   */
  readonly mediaRetentionDays?: number;
  /**
   * SSRF allowlist (`host`, `host:port`, `*.domain`) for the meeting URLs the API accepts. Set as ALLOWED_HOSTS.
   * @default - none: meeting URLs must resolve to public addresses
   */
  readonly allowedHosts?: readonly string[];
  /**
   * Most recordings live at once, service-wide (MAX_CONCURRENT_RECORDINGS of the functions).
   * @default DEFAULT_MAX_CONCURRENT_RECORDINGS (50)
   */
  readonly maxConcurrentRecordings?: number;
  /**
   * Routes to serve; each handler module must have an access entry.
   * @default ROUTES from functions/routes.ts
   */
  readonly routes?: readonly RouteDefinition[];
  /**
   * An extra API Gateway authorizer in front of every route. Every function authenticates API keys and
   * scoped tokens itself (functions/core/auth/middleware.ts) whatever this is. With an IAM authorizer here,
   * callers sign with SigV4 and send their API key in `x-api-key`.
   * @default HttpNoneAuthorizer: API keys and tokens only
   */
  readonly defaultAuthorizer?: apigwv2.IHttpRouteAuthorizer;
  /**
   * Throttling of the default stage, across all routes.
   * @default { burstLimit: 50, rateLimit: 20 }
   */
  readonly throttle?: apigwv2.ThrottleSettings;
  /**
   * Retention of the functions' and the access log's log groups.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The public HTTP API: one Lambda function and one route per entry of ROUTES (the local server dispatches to
 * the same handler modules), every route behind the default authorizer, throttled and access-logged.
 */
export class RecordingApi extends Construct {
  public readonly httpApi: apigwv2.HttpApi;
  public readonly stage: apigwv2.HttpStage;
  /** The functions by handler module name (e.g. `create-recording`). */
  public readonly functions: Readonly<Record<string, HouseFunction>>;
  public readonly accessLogGroup: logs.LogGroup;
  /** Base URL of the API (the `$default` stage). */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: RecordingApiProps) {
    super(scope, id);
    const routes = props.routes ?? ROUTES;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const missing = routes.filter((route) => !ROUTE_ACCESS[route.handler]).map((route) => route.handler);
    if (missing.length > 0) {
      throw new Error(`No access entry in lib/api.ts ROUTE_ACCESS for handler(s): ${missing.join(', ')}`);
    }

    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'Meeting recorder API',
      defaultAuthorizer: props.defaultAuthorizer ?? new apigwv2.HttpNoneAuthorizer(),
      // The stage is created below, so it can carry throttling and access logs.
      createDefaultStage: false,
    });
    if (!props.defaultAuthorizer) {
      Validations.of(this.httpApi).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'Every route authenticates in its function (API key or scoped token, functions/core/auth/middleware.ts, ' +
          'tested for every route in test/integration/auth.test.ts): an HTTP API authorizer cannot answer with the ' +
          'documented problem+json errors. Pass defaultAuthorizer to add one in front.',
      });
    }
    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy: RemovalPolicy.RETAIN });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle ?? { burstLimit: 50, rateLimit: 20 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: ACCESS_LOG_FORMAT,
      },
    });
    this.url = this.stage.url;

    const functions: Record<string, HouseFunction> = {};
    for (const route of routes) {
      const access = ROUTE_ACCESS[route.handler]!;
      const name = pascalCase(route.handler);
      const fn = new HouseFunction(this, `${name}Function`, {
        entry: `functions/handlers/${route.handler}.ts`,
        description: `${route.method} ${route.path}`,
        logRetention,
      });
      fn.bindTable(props.table, access.table);
      grantCredentialReads(fn, props.table);
      fn.bindBucket(props.bucket);
      if (access.recordings || access.listRecordings) {
        grantRecordingMedia(fn, props.bucket, access.recordings ?? [], { list: access.listRecordings ?? false });
      }
      fn.addEnvironment(ENV.mediaRetentionDays, String(props.mediaRetentionDays ?? 7));
      fn.addEnvironment(ENV.maxConcurrentRecordings, String(props.maxConcurrentRecordings ?? DEFAULT_MAX_CONCURRENT_RECORDINGS));
      if (props.allowedHosts?.length) fn.addEnvironment(ENV.allowedHosts, props.allowedHosts.join(','));
      fn.bindStateMachine(props.stateMachine, access.startExecution ? ['states:StartExecution'] : []);
      if (access.scheduleWebhooks) props.events?.grantScheduleDeliveries(fn);

      this.httpApi.addRoutes({
        path: route.path,
        methods: [apigwv2.HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${name}Integration`, fn),
      });
      functions[route.handler] = fn;
    }
    this.functions = functions;
  }
}

function pascalCase(kebab: string): string {
  return kebab.replace(/(^|-)([a-z0-9])/g, (_match, _dash, char: string) => char.toUpperCase());
}
