/**
 * Structured JSON logs: one event per line, a fixed message plus fields.
 * Fields whose names look like secrets are redacted before they are written.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose every event carries `component` (and any extra fields). */
  child(component: string, fields?: LogFields): Logger;
}

const SECRET_FIELD = /secret|password|token|credential|access_?key|session_?key|authorization/i;

/** Replace values of secret-looking fields; serialise errors to their message and code. */
export function sanitize(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (SECRET_FIELD.test(k)) out[k] = '[redacted]';
    else if (v instanceof Error) {
      const e = v as Error & { code?: unknown; name: string };
      out[k] = { name: e.name, message: e.message, ...(e.code !== undefined ? { code: e.code } : {}) };
    } else out[k] = v;
  }
  return out;
}

export interface JsonLoggerOptions {
  /** Minimum level written. @default 'info' */
  readonly level?: LogLevel;
  /** Where lines go. @default process.stdout.write */
  readonly write?: (line: string) => void;
  /** Clock for the `time` field. @default Date.now */
  readonly now?: () => number;
}

export function createLogger(opts: JsonLoggerOptions = {}, base: LogFields = {}): Logger {
  const min = LOG_LEVELS.indexOf(opts.level ?? 'info');
  const write = opts.write ?? ((line: string) => void process.stdout.write(line));
  const now = opts.now ?? Date.now;
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    const event = { time: new Date(now()).toISOString(), level, msg, ...base, ...sanitize(fields ?? {}) };
    write(JSON.stringify(event) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (component, fields) => createLogger(opts, { ...base, component, ...sanitize(fields ?? {}) }),
  };
}

/** A logger that keeps events in memory (for tests). */
export function memoryLogger(): Logger & { events: Array<LogFields & { level: LogLevel; msg: string }> } {
  const events: Array<LogFields & { level: LogLevel; msg: string }> = [];
  const logger = createLogger({ level: 'debug', write: (line) => void events.push(JSON.parse(line)) });
  return Object.assign(logger, { events });
}
