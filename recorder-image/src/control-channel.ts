/**
 * The control channel: the recorder polls the recording's desired state (set by the stop API) twice a
 * second (CONTROL_POLL_MS), so a file ends within about half a second of the stop request. Polling works
 * the same on Fargate and locally and needs no inbound connection; 7,200 consistent reads an hour cost
 * about $0.001 on on-demand DynamoDB.
 */
import type { RecordingRepository } from '#core/recording-repository.ts';
import type { Logger } from './log.ts';

export interface StopRequest {
  /** When the client asked (the API's clock); the file should end there, not when the poll saw it. */
  requestedAt?: string;
}

export interface ControlChannel {
  /** Resolves when a stop has been requested. */
  stopRequested(): Promise<StopRequest>;
  close(): void;
}

export class PollingControlChannel implements ControlChannel {
  private timer?: NodeJS.Timeout;
  private readonly requested: Promise<StopRequest>;

  constructor(repository: RecordingRepository, recordingId: string, intervalMs: number, log: Logger) {
    this.requested = new Promise((resolve) => {
      const poll = async () => {
        try {
          const recording = await repository.find(recordingId);
          if (!recording || recording.desiredState === 'STOPPED' || recording.status === 'ERRORED') {
            return resolve({ requestedAt: recording?.stopRequestedAt });
          }
        } catch (err) {
          log.warn('control poll failed', { error: (err as Error).message });
        }
        this.timer = setTimeout(poll, intervalMs);
      };
      this.timer = setTimeout(poll, intervalMs);
    });
  }

  stopRequested(): Promise<StopRequest> {
    return this.requested;
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
