/** `agentImage` pinned by digest (what a release writes): accepted in both forms, used verbatim everywhere, a bad digest named precisely. */
import { synthPipeline } from '../../lib/synth';
import { PipelinePropsError } from '../../lib/validation';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const CHOSEN = { uploader: { bucket: 'heap-dumps', prefix: '' } };

/** Every image reference in the manifests: containers, init containers and the injector's INJECT_AGENT_IMAGE. */
function imagesOf(objects: ReturnType<typeof synthPipeline>['objects']): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key?: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x));
    else if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (o.name === 'INJECT_AGENT_IMAGE' && typeof o.value === 'string') out.push(o.value);
      for (const [k, x] of Object.entries(o)) walk(x, k);
    } else if (key === 'image' && typeof v === 'string') out.push(v);
  };
  walk(objects);
  return out;
}

test.each([
  `registry.example.com/team/heapdump-agent@${DIGEST}`,
  `registry.example.com/team/heapdump-agent:0.2.0@${DIGEST}`,
])('%s: every agent container and the injected init container use it as written', (agentImage) => {
  const { objects } = synthPipeline({ agentImage, ...CHOSEN, app: { enabled: false } });
  // (the heapdumps API's oauth-proxy sidecar runs OpenShift's own image, api.web.oauthProxyImage)
  const images = imagesOf(objects).filter((i) => !i.includes('oauth-proxy'));
  // mount guard, uploader (+ its wait-ready), injector, and the injector's INJECT_AGENT_IMAGE, the API server
  expect(images.length).toBeGreaterThanOrEqual(5);
  expect([...new Set(images)]).toEqual([agentImage]);
});

test.each([
  ['too short', `registry.example.com/a:1@sha256:${'ab'.repeat(16)}`],
  ['upper case', `registry.example.com/a@sha256:${'AB'.repeat(32)}`],
  ['another algorithm', `registry.example.com/a@md5:${'ab'.repeat(16)}`],
  ['a tag after @', 'registry.example.com/a@latest'],
])('a bad digest (%s) is one line saying what a digest looks like', (_what, agentImage) => {
  let error: unknown;
  try {
    synthPipeline({ agentImage, ...CHOSEN });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PipelinePropsError);
  expect((error as Error).message).toBe(`Invalid agentImage: ${JSON.stringify(agentImage)} (expected a digest after "@": sha256: and 64 lowercase hex digits `
    + '(or sha512: and 128), e.g. registry.example.com/team/heapdump-agent:0.1.0@sha256:<64 hex digits>)');
});
