import * as fs from 'fs';
import * as path from 'path';
import { JsonSyntaxError, parseJsonText } from '../../lib/json-text';

const ROOT = path.resolve(__dirname, '..', '..');

function errorOf(text: string): string {
  try {
    parseJsonText(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) return `${e.line}:${e.column}: ${e.message}`;
    throw e;
  }
  throw new Error('parsed, but should have failed');
}

describe('parseJsonText', () => {
  test.each([
    ['pipeline.config.json', fs.readFileSync(path.join(ROOT, 'pipeline.config.json'), 'utf8')],
    ['pipeline.config.schema.json', fs.readFileSync(path.join(ROOT, 'pipeline.config.schema.json'), 'utf8')],
    ['package.json', fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')],
    ['scalars and escapes', '[0, -1.5e3, 1E+2, true, false, null, "a\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00", "", {}, [], {"a": {"b": [1, {"c": null}]}}]'],
    ['a BOM and surrounding white space', '\uFEFF \r\n\t{"a": 1} \n'],
    ['a __proto__ key', '{"__proto__": {"polluted": true}, "x": 1}'],
  ])('parses %s exactly as JSON.parse does', (_name, text) => {
    expect(parseJsonText(text)).toEqual(JSON.parse(text.replace(/^\uFEFF/, '')));
  });

  test('a __proto__ key is plain data', () => {
    const v = parseJsonText('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test.each([
    ['', '1:1: the file is empty (expected a JSON object)'],
    ['{\n  "a": 1\n  "b": 2\n}', '3:3: expected \',\' or \'}\' after a property, found \'"\''],
    ['{"a": 1,}', '1:9: expected a property name after \',\' (no trailing commas in JSON), found \'}\''],
    ['[1, 2,]', '1:7: expected a value after \',\' (no trailing commas in JSON), found \']\''],
    ['[1 2]', '1:4: expected \',\' or \']\' after an array element, found \'2\''],
    ['{a: 1}', '1:2: expected a property name in double quotes, found \'a\''],
    ["{'a': 1}", '1:2: expected a property name in double quotes, found \'\'\''],
    ['{"a" 1}', '1:6: expected \':\' after the property name, found \'1\''],
    ['{"a": }', '1:7: expected a value (object, array, string, number, true, false or null), found \'}\''],
    ['{"a": 01}', '1:8: expected \',\' or \'}\' after a property, found \'1\''],
    ['{"a": "x', '1:7: unterminated string (expected a closing \'"\')'],
    ['{"a": "x\ny"}', '1:9: expected no control characters inside a string (use \\n, \\t), found "\\n"'],
    ['{"a": "\\x"}', '1:9: expected an escape such as \\n or \\" after \\, found \'x\''],
    ['{"a": "\\u12"}', '1:9: expected 4 hex digits after \\u, found \'u\''],
    ['{"a": 1} x', '1:10: expected the end of the file after the top-level value, found \'x\''],
    ['{"a": 1, "a": 2}', '1:10: duplicate key "a" (each key may appear once)'],
    ['{"a": NaN}', '1:7: expected a value (object, array, string, number, true, false or null), found \'N\''],
    ['{"a": -}', '1:7: expected a value (object, array, string, number, true, false or null), found \'-\''],
    ['{\n\t"a": [\n\t\t1,\n\t\t2\n\t', '5:2: expected \',\' or \']\' after an array element, found the end of the file'],
  ])('reports %j at line:column', (text, message) => {
    expect(errorOf(text)).toBe(message);
  });
});
