/**
 * The documentation's TypeScript examples compile: every ```ts block of README.md and docs/*.md that
 * imports from the package is type-checked as a consumer's file (strict, `heapdump-pipeline` resolved to
 * this repository's lib/index.ts, cdk8s and Node types as a cdk8s app has them). A block that is only a
 * fragment (no import of the package) is left out; the test also checks that the known examples are found,
 * so a renamed fence does not silently check nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { REPO_ROOT } from './support/fresh-clone';

interface Example {
  readonly file: string;
  readonly line: number;
  readonly code: string;
}

/** ```ts / ```typescript blocks of a Markdown file, with the line their code starts on. */
function tsBlocks(file: string): Example[] {
  const lines = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    out.push({ file, line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return out;
}

const DOCS = ['README.md', ...fs.readdirSync(path.join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const EXAMPLES = DOCS.flatMap(tsBlocks).filter((e) => /from 'heapdump-pipeline'/.test(e.code));

test('the examples that use the package are found', () => {
  expect(EXAMPLES.map((e) => e.file)).toEqual(expect.arrayContaining(['docs/architecture.md', 'docs/collect-your-service.md']));
});

test.each(EXAMPLES.map((e) => [`${e.file}:${e.line}`, e] as const))('%s compiles', (_where, example) => {
  const name = path.join(REPO_ROOT, '.build', 'doc-example.ts');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
    baseUrl: REPO_ROOT,
    paths: { 'heapdump-pipeline': ['lib/index.ts'] },
  };
  // Each example is a module of its own (the import makes it one).
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  host.readFile = (f) => (path.resolve(f) === name ? example.code : read(f));
  host.fileExists = ((exists) => (f: string) => path.resolve(f) === name || exists(f))(host.fileExists.bind(host));
  const program = ts.createProgram([name], options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || path.resolve(d.file.fileName) === name);
  const shown = diagnostics.map((d) => {
    const where = d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + example.line : example.line;
    return `${example.file}:${where}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
  expect(shown).toEqual([]);
});
