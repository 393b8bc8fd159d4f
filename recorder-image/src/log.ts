/** JSON log lines with the recording's correlation fields, as CloudWatch Logs Insights expects. */
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export function createLogger(base: LogFields, write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Logger {
  const emit = (level: string) => (message: string, fields: LogFields = {}) =>
    write(JSON.stringify({ timestamp: new Date().toISOString(), level, message, ...base, ...fields }));
  return { info: emit('INFO'), warn: emit('WARN'), error: emit('ERROR') };
}
