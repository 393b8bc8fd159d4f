/**
 * Error codes a recording can end with (`error.code` on an ERRORED recording), tagged by cause.
 * The recorder sends one of these as the `error` of SendTaskFailure; the workflow adds its own.
 */
export const RECORDER_ERROR_CODES = {
  page_connection_refused: 'The meeting page refused the connection.',
  page_dns_failed: "The meeting page's host name could not be resolved.",
  page_tls_error: "The meeting page's TLS certificate or handshake failed.",
  page_http_error: 'The meeting page answered with an HTTP error status.',
  page_load_timeout: 'The meeting page did not finish loading in time.',
  page_unreachable: 'The meeting page could not be loaded.',
  url_not_allowed: 'The meeting page (or a page it redirected to) is on a host the SSRF policy does not allow.',
  browser_failed: 'The browser could not be started or crashed.',
  display_failed: 'The virtual display or audio server could not be started.',
  encoder_failed: 'The encoder (ffmpeg) failed.',
  upload_failed: 'The recording could not be uploaded to S3.',
  recorder_failed: 'The recorder failed unexpectedly.',
} as const;
export type RecorderErrorCode = keyof typeof RECORDER_ERROR_CODES;

/** Codes the workflow itself produces when the recorder does not report. */
export const WORKFLOW_ERROR_CODES = {
  recorder_lost: 'The recorder stopped sending heartbeats (the task crashed or lost its network).',
  recorder_timeout: 'The recording exceeded the workflow time limit.',
  recorder_launch_failed: 'The recorder task could not be started.',
  workflow_failed: 'The recording workflow failed.',
  workflow_start_failed: 'The recording workflow could not be started.',
} as const;

export function isRecorderErrorCode(value: string): value is RecorderErrorCode {
  return Object.hasOwn(RECORDER_ERROR_CODES, value);
}
