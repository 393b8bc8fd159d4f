import type { RecorderErrorCode } from '#core/recorder-errors.ts';

/** A failure tagged by cause; its code becomes the recording's error.code. */
export class RecorderError extends Error {
  readonly code: RecorderErrorCode;
  constructor(code: RecorderErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecorderError';
    this.code = code;
  }
}
