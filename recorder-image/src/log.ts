/**
 * The recorder's log: one JSON object per line on stdout, with the key names Powertools Logger uses in the
 * Lambda functions (`level`, `message`, `timestamp`, `service`) and the same correlation keys
 * (`recordingId`, `tenantId`), so that one CloudWatch Logs Insights query covers the functions and the
 * recorder. On ECS, `ecsTaskId` names the task (the awslogs stream's name ends with it).
 *
 * Everything goes to stdout, warnings and errors too: ECS's awslogs driver ships stdout and stderr alike,
 * and local mode appends both to one file, where two pipes could reorder lines. (The one exception is a
 * recorder started without its environment, which says so on stderr: see main.ts.)
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Adds keys to every later line, e.g. `tenantId` once the recording has been read (Powertools' appendKeys). */
  appendKeys(fields: LogFields): void;
  /**
   * Writes `document` as one INFO line with the correlation keys: for CloudWatch embedded metric format
   * documents (see metrics.ts), whose members must sit at the top level of the log event.
   */
  record(message: string, document: LogFields): void;
}

/** The keys every line starts with, in Powertools Logger's order; fields cannot overwrite them. */
const RESERVED = ['level', 'message', 'timestamp', 'service'] as const;

export function createLogger(
  base: LogFields & { service: string },
  write: (line: string) => void = (line) => void process.stdout.write(`${line}\n`),
  now: () => Date = () => new Date(),
): Logger {
  const keys: LogFields = { ...base };
  const emit = (level: string, message: string, fields: LogFields, service: unknown = keys.service) => {
    const head = { level, message, timestamp: now().toISOString(), service };
    write(serialize({ ...head, ...withoutReserved(keys), ...withoutReserved(fields) }, { ...head, ...withoutReserved(keys) }));
  };
  return {
    info: (message, fields = {}) => emit('INFO', message, fields),
    warn: (message, fields = {}) => emit('WARN', message, fields),
    error: (message, fields = {}) => emit('ERROR', message, fields),
    appendKeys(fields) {
      Object.assign(keys, withoutReserved(fields));
    },
    // An EMF document's dimension values must be the ones it declares, `service` included.
    record: (message, document) => emit('INFO', message, document, document.service ?? keys.service),
  };
}

function withoutReserved(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!(RESERVED as readonly string[]).includes(key)) out[key] = value;
  }
  return out;
}

/**
 * JSON on one line (JSON.stringify escapes newlines inside strings). Logging never throws: an Error becomes
 * { name, message, stack }, a bigint a string, and fields that still cannot be serialized (a cycle) are
 * replaced by `logError`.
 */
function serialize(entry: LogFields, essentials: LogFields): string {
  const replacer = (_key: string, value: unknown) => {
    if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
    if (typeof value === 'bigint') return value.toString();
    return value;
  };
  try {
    return JSON.stringify(entry, replacer);
  } catch (err) {
    const logError = `fields not serializable: ${(err as Error).message}`;
    try {
      return JSON.stringify({ ...essentials, logError }, replacer);
    } catch {
      const { level, message, timestamp, service } = essentials;
      return JSON.stringify({ level, message: String(message), timestamp, service, logError });
    }
  }
}
