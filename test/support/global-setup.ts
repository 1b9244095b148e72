/** Builds the agent bundle once per test run: integration tests execute the bundle, as the image does. */
import { buildAgentBundle } from '../../scripts/bundle-agent';

export default async function globalSetup(): Promise<void> {
  await buildAgentBundle();
}
