/**
 * The agent's version: package.json's `version`, embedded by scripts/bundle-agent.ts (esbuild
 * `define`). Unbundled (ts-jest) it is 'development'.
 */
declare const __AGENT_VERSION__: string | undefined;

export const AGENT_VERSION: string = typeof __AGENT_VERSION__ === 'string' ? __AGENT_VERSION__ : 'development';

/** What `node agent.js --version` prints. */
export const VERSION_LINE = `heapdump-agent ${AGENT_VERSION}`;
