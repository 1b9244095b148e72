/** Builds the agent bundle and the kubectl plugin once per test run: integration tests execute them, as the image ships them. */
import { buildAgentBundle, buildPluginBundle } from '../../scripts/bundle-agent';

export default async function globalSetup(): Promise<void> {
  await buildAgentBundle();
  await buildPluginBundle();
}
