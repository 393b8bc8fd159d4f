/**
 * Names shared by the Lambda functions' Powertools setup (observability.ts) and the CDK function construct
 * (lib/house-function.ts), which sets them as the Powertools environment variables. Kept apart from
 * observability.ts so that the CDK app does not load Powertools.
 */
export const OBSERVABILITY = {
  /** `service` in every log line, the only metric dimension, and the X-Ray `Service` annotation. */
  serviceName: 'meeting-recorder',
  /** CloudWatch namespace of the service's metrics (functions/core/recording-metrics.ts). */
  metricsNamespace: 'MeetingRecorder',
} as const;

/** Powertools' environment variables, as CDK sets them on every function. */
export function powertoolsEnvironment(logLevel = 'INFO'): Record<string, string> {
  return {
    POWERTOOLS_SERVICE_NAME: OBSERVABILITY.serviceName,
    POWERTOOLS_METRICS_NAMESPACE: OBSERVABILITY.metricsNamespace,
    POWERTOOLS_LOG_LEVEL: logLevel,
  };
}
