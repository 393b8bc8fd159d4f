/**
 * Step Functions stand-in: runs the deployed ASL document with aws-local-stepfunctions, and speaks the
 * Step Functions API (AWS JSON 1.0) over HTTP for the calls our code makes: StartExecution,
 * DescribeExecution, SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat. The API handlers and the
 * recorder therefore use an unmodified SFNClient pointed at this endpoint.
 *
 * `.waitForTaskToken` states are honoured: the local handler launches the work, then the state waits for
 * the token's callback, failing with States.HeartbeatTimeout / States.Timeout like the real service.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StateMachine } from 'aws-local-stepfunctions';

export type LocalTaskHandler = (input: any) => Promise<unknown>;
/** Starts the work of a callback (waitForTaskToken) state; the outcome arrives through the token. */
export type CallbackLauncher = (input: any, taskToken: string) => Promise<void>;

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED';

interface ExecutionRecord {
  executionArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  abort: () => void;
}

interface PendingToken {
  resolve(output: unknown): void;
  reject(err: Error): void;
  heartbeat(): void;
}

export class StatesError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** An API error in the shape the AWS SDK parses (`__type` + message, HTTP 400). */
class ApiError extends Error {
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.type = type;
  }
}

interface TaskStateTimeouts {
  HeartbeatSeconds?: number;
  TimeoutSeconds?: number;
}

export interface LocalStepFunctionsOptions {
  definition: { States: Record<string, any> };
  stateMachineArn: string;
  /** Task states run by a local function, by state name. */
  tasks: Record<string, LocalTaskHandler>;
  /** waitForTaskToken states, by state name. */
  callbacks: Record<string, CallbackLauncher>;
  /** Overrides the definition's HeartbeatSeconds (tests of lost recorders use a short one). */
  heartbeatSecondsOverride?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class LocalStepFunctions {
  private readonly machine: StateMachine;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly tokens = new Map<string, PendingToken>();
  private readonly options: LocalStepFunctionsOptions;

  constructor(options: LocalStepFunctionsOptions) {
    this.options = options;
    this.machine = new StateMachine(options.definition as any, { validationOptions: { checkArn: false } });
  }

  get stateMachineArn(): string {
    return this.options.stateMachineArn;
  }

  startExecution(name: string, input: string): { executionArn: string; startDate: Date } {
    const executionArn = `${this.options.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      if (existing.input === input) return existing;
      throw new ApiError('ExecutionAlreadyExists', `Execution already exists: '${executionArn}'`);
    }
    const parsedInput = JSON.parse(input);
    const taskToken = randomUUID();
    const taskResourceLocalHandlers: Record<string, LocalTaskHandler> = { ...this.options.tasks };
    for (const [state, launch] of Object.entries(this.options.callbacks)) {
      taskResourceLocalHandlers[state] = async (stateInput) => {
        const waiting = this.waitForToken(taskToken, this.options.definition.States[state] as TaskStateTimeouts);
        try {
          await launch(stateInput, taskToken);
        } catch (err) {
          this.tokens.delete(taskToken);
          throw err;
        }
        return waiting;
      };
    }
    const startDate = new Date();
    const run = this.machine.run(parsedInput, {
      overrides: { taskResourceLocalHandlers: taskResourceLocalHandlers as any },
      context: {
        Execution: { Id: executionArn, Name: name, Input: parsedInput, StartTime: startDate.toISOString() },
        StateMachine: { Id: this.options.stateMachineArn },
        Task: { Token: taskToken },
      },
    });
    const record: ExecutionRecord = { executionArn, name, input, status: 'RUNNING', startDate, abort: run.abort };
    this.executions.set(executionArn, record);
    run.result.then(
      (output) => {
        Object.assign(record, { status: 'SUCCEEDED', stopDate: new Date(), output: JSON.stringify(output) });
        this.options.log?.('execution succeeded', { name });
      },
      (err: Error & { cause?: unknown }) => {
        const aborted = err?.name === 'ExecutionAbortedError';
        Object.assign(record, { status: aborted ? 'ABORTED' : 'FAILED', stopDate: new Date(), error: err?.name, cause: err?.message });
        this.options.log?.('execution ended', { name, status: record.status });
      },
    );
    return { executionArn, startDate };
  }

  describeExecution(executionArn: string): ExecutionRecord {
    const record = this.executions.get(executionArn);
    if (!record) throw new ApiError('ExecutionDoesNotExist', `Execution does not exist: '${executionArn}'`);
    return record;
  }

  sendTaskSuccess(taskToken: string, output: string): void {
    this.takeToken(taskToken).resolve(JSON.parse(output));
  }

  sendTaskFailure(taskToken: string, error = '', cause = ''): void {
    this.takeToken(taskToken).reject(new StatesError(error, cause));
  }

  sendTaskHeartbeat(taskToken: string): void {
    const pending = this.tokens.get(taskToken);
    if (!pending) throw new ApiError('TaskTimedOut', 'Task Timed Out');
    pending.heartbeat();
  }

  /** The names of the executions started so far (one per recording). */
  executionNames(): string[] {
    return [...this.executions.values()].map((r) => r.name);
  }

  /** Waits until no execution is running, or `timeoutMs` has passed. */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.executions.values()].some((r) => r.status === 'RUNNING') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Aborts every running execution (local mode shutting down). */
  stopAll(): void {
    for (const record of this.executions.values()) if (record.status === 'RUNNING') record.abort();
  }

  private takeToken(taskToken: string): PendingToken {
    const pending = this.tokens.get(taskToken);
    if (!pending) throw new ApiError('TaskTimedOut', 'Task Timed Out');
    this.tokens.delete(taskToken);
    return pending;
  }

  private waitForToken(taskToken: string, state: TaskStateTimeouts): Promise<unknown> {
    const heartbeatSeconds = this.options.heartbeatSecondsOverride ?? state.HeartbeatSeconds;
    return new Promise((resolve, reject) => {
      let heartbeatTimer: NodeJS.Timeout | undefined;
      const timeoutTimer = state.TimeoutSeconds
        ? setTimeout(() => fail(new StatesError('States.Timeout', 'The task timed out.')), state.TimeoutSeconds * 1000)
        : undefined;
      const armHeartbeat = () => {
        clearTimeout(heartbeatTimer);
        if (heartbeatSeconds) {
          heartbeatTimer = setTimeout(
            () => fail(new StatesError('States.HeartbeatTimeout', `No heartbeat for ${heartbeatSeconds} s.`)),
            heartbeatSeconds * 1000,
          );
        }
      };
      const clear = () => {
        clearTimeout(heartbeatTimer);
        clearTimeout(timeoutTimer);
        this.tokens.delete(taskToken);
      };
      const fail = (err: Error) => {
        clear();
        reject(err);
      };
      this.tokens.set(taskToken, {
        resolve: (output) => {
          clear();
          resolve(output);
        },
        reject: fail,
        heartbeat: armHeartbeat,
      });
      armHeartbeat();
    });
  }

  /** Serves the Step Functions API (AWS JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Action>`). */
  async handleHttp(req: IncomingMessage, res: ServerResponse, rawBody: string): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.replace(/^AWSStepFunctions\./, '');
    const reply = (status: number, body: unknown, errorType?: string) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', ...(errorType && { 'x-amzn-errortype': errorType }) });
      res.end(JSON.stringify(body));
    };
    try {
      const p = rawBody ? JSON.parse(rawBody) : {};
      switch (action) {
        case 'StartExecution': {
          if (p.stateMachineArn !== this.options.stateMachineArn) throw new ApiError('StateMachineDoesNotExist', `State machine does not exist: '${p.stateMachineArn}'`);
          const out = this.startExecution(p.name ?? randomUUID(), p.input ?? '{}');
          return reply(200, { executionArn: out.executionArn, startDate: out.startDate.getTime() / 1000 });
        }
        case 'DescribeExecution': {
          const r = this.describeExecution(p.executionArn);
          return reply(200, {
            executionArn: r.executionArn,
            stateMachineArn: this.options.stateMachineArn,
            name: r.name,
            status: r.status,
            input: r.input,
            output: r.output,
            error: r.error,
            cause: r.cause,
            startDate: r.startDate.getTime() / 1000,
            stopDate: r.stopDate ? r.stopDate.getTime() / 1000 : undefined,
          });
        }
        case 'SendTaskSuccess':
          this.sendTaskSuccess(p.taskToken, p.output);
          return reply(200, {});
        case 'SendTaskFailure':
          this.sendTaskFailure(p.taskToken, p.error, p.cause);
          return reply(200, {});
        case 'SendTaskHeartbeat':
          this.sendTaskHeartbeat(p.taskToken);
          return reply(200, {});
        default:
          throw new ApiError('UnknownOperationException', `Local Step Functions does not implement '${target}'.`);
      }
    } catch (err) {
      if (err instanceof ApiError) return reply(400, { __type: err.type, message: err.message }, err.type);
      return reply(400, { __type: 'InvalidRequestException', message: (err as Error).message }, 'InvalidRequestException');
    }
  }
}
