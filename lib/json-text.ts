/**
 * A strict JSON parser (RFC 8259) for hand-edited files, which reports where the text went wrong:
 * `JSON.parse` gives no position in some Node versions and no line/column in others, and silently keeps
 * the last of two equal keys. Values are the same as JSON.parse's.
 */

/** A syntax error at `line`:`column` (1-based; columns count characters). `message` completes "JSON syntax error: ...". */
export class JsonSyntaxError extends Error {
  public constructor(
    message: string,
    public readonly line: number,
    public readonly column: number,
  ) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Parses `text` (a leading BOM is ignored). Throws JsonSyntaxError; an empty text is an error too. */
export function parseJsonText(text: string): unknown {
  let i = text.startsWith('\uFEFF') ? 1 : 0;

  const fail = (message: string, at = i): never => {
    const p = position(text, at);
    throw new JsonSyntaxError(message, p.line, p.column);
  };
  const found = (): string => {
    if (i >= text.length) return 'the end of the file';
    const c = text[i];
    return c >= ' ' && c !== '\u007f' ? `'${c}'` : JSON.stringify(c);
  };
  const expected = (what: string): never => fail(`expected ${what}, found ${found()}`);
  const skip = (): void => {
    while (i < text.length && WS.has(text[i])) i++;
  };

  const string = (): string => {
    const start = i;
    i++; // opening quote
    for (;;) {
      if (i >= text.length) fail('unterminated string (expected a closing \'"\')', start);
      const c = text[i];
      if (c === '"') {
        i++;
        return JSON.parse(text.slice(start, i)) as string;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
            i++;
            expected('4 hex digits after \\u');
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          i++;
          expected('an escape such as \\n or \\" after \\');
        }
      } else if (c < ' ') {
        expected('no control characters inside a string (use \\n, \\t)');
      } else {
        i++;
      }
    }
  };

  const value = (): unknown => {
    skip();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m !== null && m[0] !== '' && m[0] !== '-') {
      i += m[0].length;
      return Number(m[0]);
    }
    return expected('a value (object, array, string, number, true, false or null)');
  };

  const object = (): Record<string, unknown> => {
    i++;
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    skip();
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      skip();
      if (text[i] !== '"') expected('a property name in double quotes');
      const keyAt = i;
      const key = string();
      if (seen.has(key)) fail(`duplicate key "${key}" (each key may appear once)`, keyAt);
      seen.add(key);
      skip();
      if (text[i] !== ':') expected('\':\' after the property name');
      i++;
      const v = value();
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      skip();
      if (text[i] === ',') {
        i++;
        skip();
        if (text[i] === '}') expected('a property name after \',\' (no trailing commas in JSON)');
        continue;
      }
      if (text[i] === '}') {
        i++;
        return out;
      }
      expected('\',\' or \'}\' after a property');
    }
  };

  const array = (): unknown[] => {
    i++;
    const out: unknown[] = [];
    skip();
    if (text[i] === ']') {
      i++;
      return out;
    }
    for (;;) {
      out.push(value());
      skip();
      if (text[i] === ',') {
        i++;
        skip();
        if (text[i] === ']') expected('a value after \',\' (no trailing commas in JSON)');
        continue;
      }
      if (text[i] === ']') {
        i++;
        return out;
      }
      expected('\',\' or \']\' after an array element');
    }
  };

  skip();
  if (i >= text.length) fail('the file is empty (expected a JSON object)');
  const result = value();
  skip();
  if (i < text.length) expected('the end of the file after the top-level value');
  return result;
}
