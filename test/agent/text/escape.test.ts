import { escapeMrkdwn, escapeText, inertJson } from '../../../agent/src/text/escape';

describe('escapeText', () => {
  it('keeps ordinary names, including non-ASCII letters and Java punctuation', () => {
    for (const s of ['java.util.HashMap$Node[]', 'com.acme.Größe', '日本語.Klasse', 'byte[]', 'Thread-12 "worker"']) {
      expect(escapeText(s)).toBe(s);
    }
  });

  it('turns newlines, ESC and OSC 52 sequences into visible escapes on one line', () => {
    const osc52 = '\x1b]52;c;ZWNobyBwd25lZA==\x07';
    const out = escapeText(`a\nACTION REQUIRED\r\n${osc52}b`);
    expect(out).toBe('a\\x0aACTION REQUIRED\\x0d\\x0a\\x1b]52;c;ZWNobyBwd25lZA==\\x07b');
    expect(out).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
  });

  it('escapes C1 controls, DEL, separators, bidi overrides and invisible format characters', () => {
    const cases: Array<[string, string]> = [
      ['\x7f', '\\x7f'], ['\x9b', '\\x9b'], ['\u2028', '\\u{2028}'], ['\u2029', '\\u{2029}'],
      ['\u202e', '\\u{202e}'], ['\u2066', '\\u{2066}'], ['\u200b', '\\u{200b}'], ['\ufeff', '\\u{feff}'], ['\u061c', '\\u{61c}'],
    ];
    for (const [input, expected] of cases) expect(escapeText(`x${input}y`)).toBe(`x${expected}y`);
  });

  it('is injective: a backslash in the input is doubled, so a literal "\\x0a" differs from a newline', () => {
    expect(escapeText('\\x0a')).toBe('\\\\x0a');
    expect(escapeText('\n')).toBe('\\x0a');
    expect(escapeText('\\x0a')).not.toBe(escapeText('\n'));
  });

  it('replaces lone surrogates and keeps paired ones (astral characters)', () => {
    expect(escapeText('a\ud800b')).toBe('a\\u{d800}b');
    expect(escapeText('\u{1f600}')).toBe('\u{1f600}');
  });

  it('caps the length in code points and says how much was cut', () => {
    expect(escapeText('abcdef', 4)).toBe('abcd…(+2)');
    expect(escapeText('abcd', 4)).toBe('abcd');
    expect(escapeText('x'.repeat(10_000)).length).toBe(512 + '…(+9488)'.length);
  });
});

describe('escapeMrkdwn (Slack)', () => {
  it('turns backticks into \\x60 and &, <, > into entities, on top of escapeText', () => {
    expect(escapeMrkdwn('a```\n<!channel> & <https://evil.example|click>')).toBe('a\\x60\\x60\\x60\\x0a&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
  });

  it('stays injective: a literal "\\x60" differs from a backtick, a literal "&lt;" from "<"', () => {
    expect(escapeMrkdwn('\\x60')).toBe('\\\\x60');
    expect(escapeMrkdwn('`')).toBe('\\x60');
    expect(escapeMrkdwn('&lt;')).toBe('&amp;lt;');
    expect(escapeMrkdwn('<')).toBe('&lt;');
  });
});

describe('inertJson', () => {
  it('writes C1, DEL, separators and bidi characters as \\u escapes: the same data, no raw control bytes', () => {
    const value = { name: 'a\u009b31mb\u007f\u2028\u202e\u2066c\nd\u00e9\u{1f600}' };
    const text = inertJson(value);
    expect(text).toBe('{"name":"a\\u009b31mb\\u007f\\u2028\\u202e\\u2066c\\nd\u00e9\u{1f600}"}');
    expect(JSON.parse(text)).toEqual(value);
    expect(inertJson({ x: [1, 'ok'] }, 2)).toBe(JSON.stringify({ x: [1, 'ok'] }, null, 2));
  });
});
