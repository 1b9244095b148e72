/**
 * Structured logs: one event per line, a fixed message plus fields. Two formats of the same events:
 * `json` (one JSON object per line, for log collectors: what pods write) and `text` (one line for people
 * at a terminal: time, level, component, message, key=value fields; strings escaped as text/escape.ts
 * does, so a tenant's file name cannot forge a line or send terminal escapes).
 * Fields whose names look like secrets are redacted before they are written, in both formats.
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
    const rest = { ...base, ...sanitize(fields ?? {}) };
    write(opts.format === 'text' ? textLine(time, level, msg, rest) : JSON.stringify({ time, level, msg, ...rest }) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (component, fields) => createLogger(opts, { ...base, component, ...sanitize(fields ?? {}) }),
  };
}

function textValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  const escaped = escapeText(s);
  // escapeText turned every backslash into two, so \" is unambiguous inside the quotes.
  return escaped === '' || /[\s"=]/.test(escaped) ? `"${escaped.replace(/"/g, '\\"')}"` : escaped;
}

/** `12:00:01.234 WARN  main: message key=value ...` (the date is left out: a terminal session is short). */
function textLine(time: string, level: LogLevel, msg: string, fields: LogFields): string {
  const { component, ...rest } = fields;
  const who = component !== undefined ? `${textValue(component)}: ` : '';
  const pairs = Object.entries(rest).map(([k, v]) => ` ${k}=${textValue(v)}`).join('');
  return `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${who}${escapeText(msg)}${pairs}\n`;
}

/** A logger that keeps events in memory (for tests). */
export function memoryLogger(): Logger & { events: Array<LogFields & { level: LogLevel; msg: string }> } {
  const events: Array<LogFields & { level: LogLevel; msg: string }> = [];
  const logger = createLogger({ level: 'debug', write: (line) => void events.push(JSON.parse(line)) });
  return Object.assign(logger, { events });
}
