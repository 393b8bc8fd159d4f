/**
 * The reporter: status writes go through the shared domain repository (conditional transitions); the
 * outcome and liveness go to the workflow through the task token. Without a token (standalone runs) only
 * the status writes happen.
 */
import { SendTaskFailureCommand, SendTaskHeartbeatCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { RecordingRepository } from '#core/recording-repository.ts';
import type { StopReason } from '#core/recording.ts';
import type { RecorderFailureCause, RecorderResult } from '../../workflow/recording-workflow.ts';
import type { Logger } from './log.ts';
import type { RecorderError } from './recorder-error.ts';

export interface Reporter {
  recording(startedAt: string): Promise<void>;
  /** RECORDING -> PAUSED: capture stopped at `pausedAt`, `offsetSeconds` into the file. */
  paused(pausedAt: string, offsetSeconds: number): Promise<void>;
  /** PAUSED -> RECORDING: capture continued at `resumedAt` (the first frame after the pause). */
  resumed(resumedAt: string): Promise<void>;
  /** -> UPLOADING; resolves with the stop reason written (a client's earlier stop request wins). */
  uploading(stoppedAt: string, stopReason: StopReason): Promise<StopReason>;
  succeeded(result: RecorderResult): Promise<void>;
  /** `kept`: what the recording keeps despite the failure (files marked partial, gaps). */
  failed(error: RecorderError, kept?: Omit<RecorderFailureCause, 'message'>): Promise<void>;
  /** Starts heartbeats; `onLost` runs if the workflow no longer knows the task (timed out, stopped). */
  startHeartbeats(intervalMs: number, onLost: () => void): void;
  close(): void;
}

export class WorkflowReporter implements Reporter {
  private timer?: NodeJS.Timeout;
  private readonly repository: RecordingRepository;
  private readonly sfn: SFNClient;
  private readonly recordingId: string;
  private readonly taskToken: string | undefined;
  private readonly log: Logger;

  constructor(deps: { repository: RecordingRepository; sfn: SFNClient; recordingId: string; taskToken?: string; log: Logger }) {
    this.repository = deps.repository;
    this.sfn = deps.sfn;
    this.recordingId = deps.recordingId;
    this.taskToken = deps.taskToken;
    this.log = deps.log;
  }

  async recording(startedAt: string): Promise<void> {
    await this.repository.transitionLatest(this.recordingId, 'RECORDING', { startedAt });
    this.log.info('status RECORDING', { startedAt });
  }

  async paused(pausedAt: string, offsetSeconds: number): Promise<void> {
    await this.repository.transitionLatest(this.recordingId, 'PAUSED', (current) => ({
      pauses: [...(current.pauses ?? []), { pausedAt, offsetSeconds }],
    }));
    this.log.info('status PAUSED', { pausedAt, offsetSeconds });
  }

  async resumed(resumedAt: string): Promise<void> {
    await this.repository.transitionLatest(this.recordingId, 'RECORDING', (current) => ({
      pauses: (current.pauses ?? []).map((p, i, all) => (i === all.length - 1 && !p.resumedAt ? { ...p, resumedAt } : p)),
    }));
    this.log.info('status RECORDING (resumed)', { resumedAt });
  }

  async uploading(stoppedAt: string, stopReason: StopReason): Promise<StopReason> {
    let written = stopReason;
    await this.repository.transitionLatest(this.recordingId, 'UPLOADING', (current) => {
      // A client's stop request made before this stop's instant is the reason (the recorder may have seen
      // SIGTERM or its max duration first); a later one came too late to matter.
      const clientStoppedFirst = current.desiredState === 'STOPPED' && (!current.stopRequestedAt || current.stopRequestedAt <= stoppedAt);
      written = stopReason === 'api' || clientStoppedFirst ? (current.stopReason ?? 'api') : stopReason;
      return { stoppedAt, stopReason: written };
    });
    this.log.info('status UPLOADING', { stopReason: written });
    return written;
  }

  async succeeded(result: RecorderResult): Promise<void> {
    if (this.taskToken) await this.sfn.send(new SendTaskSuccessCommand({ taskToken: this.taskToken, output: JSON.stringify(result) }));
    this.log.info('recording succeeded', { files: result.files, metrics: result.metrics });
  }

  async failed(error: RecorderError, kept: Omit<RecorderFailureCause, 'message'> = {}): Promise<void> {
    this.log.error('recording failed', { code: error.code, error: error.message, files: kept.files });
    if (this.taskToken) {
      // The cause is capped at 32,768 characters: the message gives way, the kept files must arrive whole.
      const cause: RecorderFailureCause = { ...kept, message: error.message.slice(0, 4000) };
      await this.sfn.send(new SendTaskFailureCommand({ taskToken: this.taskToken, error: error.code, cause: JSON.stringify(cause) }));
    }
  }

  startHeartbeats(intervalMs: number, onLost: () => void): void {
    if (!this.taskToken) return;
    const token = this.taskToken;
    const beat = async () => {
      try {
        await this.sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
      } catch (err) {
        const name = (err as Error).name;
        if (name === 'TaskTimedOut' || name === 'TaskDoesNotExist' || name === 'InvalidToken') {
          this.log.error('workflow no longer knows this task; stopping', { error: name });
          return onLost();
        }
        this.log.warn('heartbeat failed', { error: (err as Error).message });
      }
      this.timer = setTimeout(beat, intervalMs);
    };
    this.timer = setTimeout(beat, intervalMs);
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
