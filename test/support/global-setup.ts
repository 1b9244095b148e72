/**
 * Once per test run, before the workers start (they inherit the environment set here): builds the agent
 * bundle and the kubectl plugin (integration tests execute them, as the image ships them), and turns off the AWS
 * SDK's NodeVersionSupportWarning.
 */
import { buildAgentBundle, buildPluginBundle } from '../../scripts/bundle-agent';

/**
 * The SDK's own switch for its Node-version notice (@aws-sdk/core, emitWarningIfUnsupportedVersion). The tests
 * load the SDK in-process on the machine's Node 20, where every worker printed the same multi-line notice;
 * the image and test/agent/node24.test.ts run Node 24, where it never appears. Only this warning is off:
 * every other process warning still prints, and agents started with an environment of their own do not get it.
 */
export const SDK_NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

export default async function globalSetup(): Promise<void> {
  process.env[SDK_NODE_WARNING_SWITCH] = 'true';
  await buildAgentBundle();
  await buildPluginBundle();
}
