/**
 * Powertools for AWS Lambda: the Logger, Metrics and Tracer, built once per container at module scope, and
 * `observed()`, which wraps a handler in Powertools' middy middlewares. Every Lambda handler goes through it
 * (httpHandler in http.ts; the task handlers in functions/tasks directly).
 *
 * On Lambda (lib/house-function.ts sets the POWERTOOLS_* variables): JSON log lines at INFO with the
 * invocation's context and the keys a handler appends (recordingId, tenantId); one EMF document per
 * invocation that stored metrics (recording-metrics.ts); an X-Ray subsegment for the handler and one for
 * every SDK call of a client wrapped with `traced()`.
 *
 * Local mode hosts the same handlers in one long-lived process, so there: logs at WARN (POWERTOOLS_LOG_LEVEL
 * overrides it), metrics dropped instead of printed as EMF (POWERTOOLS_METRICS_DISABLED=false prints them),
 * and no tracing (the Tracer turns itself off outside Lambda). Concurrent requests share the one Logger
 * there, so a local WARN line can carry another request's keys; on Lambda a container runs one invocation
 * at a time.
 */
import middy, { type MiddlewareObj, type MiddyfiedHandler } from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import { OBSERVABILITY } from './observability-config.ts';

const env = process.env;
/** Set by the Lambda runtime; absent in local mode, tests and scripts. */
const onLambda = Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
const serviceName = env.POWERTOOLS_SERVICE_NAME || OBSERVABILITY.serviceName;
const localLogLevel = env.POWERTOOLS_LOG_LEVEL || env.LOG_LEVEL ? undefined : 'WARN';

export const logger = new Logger({ serviceName, ...(!onLambda && localLogLevel && { logLevel: localLogLevel }) });
export const metrics = new Metrics({
  serviceName,
  namespace: env.POWERTOOLS_METRICS_NAMESPACE || OBSERVABILITY.metricsNamespace,
  // Metrics' own warnings (an invalid metric) as JSON log lines too.
  logger,
});
// No subsegment per outgoing HTTPS request: besides AWS (traced through the SDK clients, `traced`) that is
// webhook deliveries, to customers' URLs, whose query strings may hold their credentials.
export const tracer = new Tracer({ serviceName, captureHTTPsRequests: false });

/** Off the runtime, metrics are published only when asked for; Powertools still honours POWERTOOLS_METRICS_DISABLED. */
const publishMetrics = onLambda || env.POWERTOOLS_METRICS_DISABLED !== undefined;

/** Records the client's SDK calls as X-Ray subsegments (a no-op where tracing is off). */
export function traced<Client>(client: Client): Client {
  return tracer.captureAWSv3Client(client);
}

/**
 * Publishes the metrics an invocation stored as one EMF document, and only when it stored some: Powertools'
 * `logMetrics` middleware warns on every invocation without metrics, which is most API calls.
 */
function flushMetrics(): MiddlewareObj {
  const flush = () => {
    if (!metrics.hasStoredMetrics()) return;
    if (publishMetrics) metrics.publishStoredMetrics();
    else metrics.clearMetrics();
  };
  return { after: flush, onError: flush };
}

/**
 * Wraps a handler (a plain function or a middy handler with its own middlewares) in Powertools' middlewares:
 * the Lambda context in every log line and the appended keys cleared after each invocation, the handler's
 * X-Ray subsegment, and the metrics flush. They are outside the handler's own middy stack, so an early
 * answer there (an idempotent replay) still closes the subsegment and clears the keys.
 */
export function observed<Event, Result>(handler: (event: Event, context: Context) => Promise<Result>): MiddyfiedHandler<Event, Result> {
  return middy<Event, Result>()
    // Responses carry tokens, webhook secrets and presigned URLs: never copied into the trace.
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    // logEvent false whatever POWERTOOLS_LOGGER_LOG_EVENT says: events carry credentials and request bodies.
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(flushMetrics())
    .handler(handler);
}
