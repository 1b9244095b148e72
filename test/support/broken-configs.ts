/**
 * Every user-facing way a synth can fail because of pipeline.config.json, with the one line it must
 * print. Shared by the direct (`npm run synth`) and the cdk8s-cli (`npx cdk8s synth`) tests.
 */
import * as fs from 'fs';
import * as path from 'path';

export const GOOD_CONFIG_FILE = 'pipeline.config.json';

export interface BrokenConfig {
  readonly name: string;
  /** Breaks the config file in a clone (`good` is the committed file's text). */
  readonly apply: (dir: string, good: string) => void;
  /** The whole line, exactly. */
  readonly line: string;
  /** Strings that must never appear in the output (secrets). */
  readonly secrets?: readonly string[];
}

const FILE = GOOD_CONFIG_FILE;
const write = (text: string) => (dir: string) => fs.writeFileSync(path.join(dir, FILE), text);
const edit = (change: (config: Record<string, any>) => void) => (dir: string, good: string) => {
  const config = JSON.parse(good) as Record<string, any>;
  change(config);
  fs.writeFileSync(path.join(dir, FILE), JSON.stringify(config, null, 2));
};
const TOP_LEVEL_KEYS = 'agentImage, platform, namespace, namePrefix, imagePullPolicy, imagePullSecrets, waitTimeoutSeconds, storage, priorityClass, '
  + 'scheduling, volumeManager, uploader, analyzer, app, collect, injector, api, monitoring';
const OBJECT = 'a JSON object with the pipeline settings, at least {"agentImage": "registry.example.com/team/heapdump-agent:0.1.0"}';

export const BROKEN_CONFIGS: readonly BrokenConfig[] = [
  {
    name: 'a missing file',
    apply: (dir) => fs.rmSync(path.join(dir, FILE)),
    line: `${FILE}: not found (expected ${OBJECT}; PIPELINE_CONFIG names another file)`,
  },
  {
    name: 'a directory instead of a file',
    apply: (dir) => {
      fs.rmSync(path.join(dir, FILE));
      fs.mkdirSync(path.join(dir, FILE));
    },
    line: `${FILE}: is a directory (expected ${OBJECT}; PIPELINE_CONFIG names another file)`,
  },
  {
    name: 'an empty file',
    apply: write('\n  \n'),
    line: `${FILE}:3:1: JSON syntax error: the file is empty (expected a JSON object)`,
  },
  {
    name: 'null',
    apply: write('null\n'),
    line: `${FILE}: Invalid configuration: null (expected ${OBJECT})`,
  },
  {
    name: 'a list instead of an object',
    apply: write('[{"agentImage": "registry.example.com/a:1"}]\n'),
    line: `${FILE}: Invalid configuration: [{"agentImage":"registry.example.com/a:1"}] (expected ${OBJECT})`,
  },
  {
    name: 'a JSON syntax error (a missing comma), with line and column',
    apply: write('{\n  "agentImage": "registry.example.com/a:1"\n  "platform": "openshift"\n}\n'),
    line: `${FILE}:3:3: JSON syntax error: expected ',' or '}' after a property, found '"'`,
  },
  {
    name: 'a trailing comma',
    apply: write('{\n  "agentImage": "registry.example.com/a:1",\n}\n'),
    line: `${FILE}:3:1: JSON syntax error: expected a property name after ',' (no trailing commas in JSON), found '}'`,
  },
  {
    name: 'a truncated file',
    apply: (dir, good) => fs.writeFileSync(path.join(dir, FILE), good.slice(0, good.indexOf('"storage"'))),
    line: `${FILE}:6:3: JSON syntax error: expected a property name in double quotes, found the end of the file`,
  },
  {
    name: 'a key given twice',
    apply: write('{\n  "agentImage": "registry.example.com/a:1",\n  "agentImage": "registry.example.com/b:1"\n}\n'),
    line: `${FILE}:3:3: JSON syntax error: duplicate key "agentImage" (each key may appear once)`,
  },
  {
    name: 'an unknown key',
    apply: edit((c) => { c.uploader.bukcet = 'x'; }),
    line: `${FILE}: Unknown key uploader.bukcet: did you mean uploader.bucket? (expected a key of uploader: bucket, prefix, watchIntervalSeconds, fileStableTimeSeconds, completeQuietTimeSeconds, patterns, endpoint, forcePathStyle, region, storageClass, checksumMode, partSizeMb, concurrency, gzip, afterUpload, payloadChecksum, analysis, retentionMaxAgeSeconds, retentionMaxBytes, retentionDays, objectTags, encryption, logLevel, resources, waitReadyResources, extraEnv, credentials, caBundle, proxy, notifications, multipartThresholdMb)`,
  },
  {
    // The value is left out: here it is the whole uploader object, hundreds of characters.
    name: 'a misspelt group with its whole object as the value',
    apply: edit((c) => { c.uploaderr = c.uploader; delete c.uploader; }),
    line: `${FILE}: Unknown key uploaderr: did you mean uploader? (expected a top-level key: ${TOP_LEVEL_KEYS})`,
  },
  {
    name: 'a bad value',
    apply: edit((c) => { c.uploader.bucket = 'Heap_Dumps'; }),
    line: `${FILE}: Invalid uploader.bucket: "Heap_Dumps" (expected an S3 bucket name: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, not an IP address)`,
  },
  {
    name: 'a value of the wrong type',
    apply: edit((c) => { c.uploader.watchIntervalSeconds = '60'; }),
    line: `${FILE}: Invalid uploader.watchIntervalSeconds: "60" (expected a number of seconds between 1 and 86400)`,
  },
  {
    name: 'a missing agent image',
    apply: edit((c) => { delete c.agentImage; }),
    line: `${FILE}: Invalid agentImage: undefined (missing) (expected a container image reference such as registry.example.com/team/heapdump-agent:0.1.0 (lowercase repository, optional :tag and @sha256: digest); it is required)`,
  },
  {
    name: 'a $schema that is not a string',
    apply: edit((c) => { c.$schema = 7; }),
    line: `${FILE}: Invalid $schema: 7 (expected a string: the path or URL of the JSON Schema, e.g. "./pipeline.config.schema.json")`,
  },
  {
    name: 'credentials in the config file',
    apply: edit((c) => { c.uploader.credentials = { secretValues: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI-not-real' } }; }),
    line: `${FILE}: Invalid uploader.credentials.secretValues: "<redacted>" (expected no credentials in a config file; create the Secret with \`oc create secret generic s3-credentials ...\`)`,
    secrets: ['AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI-not-real'],
  },
];
