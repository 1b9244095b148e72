/**
 * Structured logs: one event per line, a fixed message plus fields. Two formats of the same events:
 * `json` (one JSON object per line, for log collectors: what pods write) and `text` (one line for people
 * at a terminal: time, level, component, message, key=value fields).
 * Fields whose names look like secrets are redacted before they are written, in both formats.
 *
 * Every string (the message, field values, error messages) goes through escapeText first: fields carry names a
 * tenant or a dump chose (file names, object keys, class names), and JSON keeps C1 controls, bidi overrides and
 * line separators as they are, so `oc logs` in a terminal, or a log viewer, would show them raw; in the text
 * format a tenant's file name could otherwise forge a line or send terminal escapes.
 */
import { escapeText } from '../text/escape';

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

/** A log string's cap, in code points (long enough for any error message the agent writes). */
const MAX_LOG_STRING = 4096;

/** Strings escaped, also inside arrays and plain objects (8 levels deep; deeper ones are not logged). */
function escapeValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return escapeText(v, MAX_LOG_STRING);
  if (v === null || typeof v !== 'object') return v;
  if (depth >= 8) return '[too deep]';
  if (Array.isArray(v)) return v.map((x) => escapeValue(x, depth + 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, escapeValue(x, depth + 1)]));
}

/** Replace values of secret-looking fields; serialise errors to their message and code; escape every string. */
export function sanitize(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (SECRET_FIELD.test(k)) out[k] = '[redacted]';
    else if (v instanceof Error) {
      const e = v as Error & { code?: unknown; name: string };
      out[k] = escapeValue({ name: e.name, message: e.message, ...(e.code !== undefined ? { code: e.code } : {}) });
    } else out[k] = escapeValue(v);
  }
  return out;
}

export type LogFormat = 'json' | 'text';

export interface JsonLoggerOptions {
  /** Minimum level written. @default 'info' */
  readonly level?: LogLevel;
  /** @default 'json' */
  readonly format?: LogFormat;
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
    const time = new Date(now()).toISOString();
    const safeMsg = escapeText(msg, MAX_LOG_STRING);
    const rest = { ...base, ...sanitize(fields ?? {}) };
    write(opts.format === 'text' ? textLine(time, level, safeMsg, rest) : JSON.stringify({ time, level, msg: safeMsg, ...rest }) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (component, fields) => createLogger(opts, { ...base, component, ...sanitize(fields ?? {}) }),
  };
}

/** Strings arrive escaped by sanitize() (every backslash doubled, so \" is unambiguous inside the quotes). */
function textValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  return s === '' || /[\s"=]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s;
}

/** `12:00:01.234 WARN  main: message key=value ...` (the date is left out: a terminal session is short); `msg` is escaped. */
function textLine(time: string, level: LogLevel, msg: string, fields: LogFields): string {
  const { component, ...rest } = fields;
  const who = component !== undefined ? `${textValue(component)}: ` : '';
  const pairs = Object.entries(rest).map(([k, v]) => ` ${k}=${textValue(v)}`).join('');
  return `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${who}${msg}${pairs}\n`;
}

/** A logger that keeps events in memory (for tests). */
export function memoryLogger(): Logger & { events: Array<LogFields & { level: LogLevel; msg: string }> } {
  const events: Array<LogFields & { level: LogLevel; msg: string }> = [];
  const logger = createLogger({ level: 'debug', write: (line) => void events.push(JSON.parse(line)) });
  return Object.assign(logger, { events });
}
