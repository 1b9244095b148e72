/** Which cluster flavour the manifests target (the settings table's `platform`). */
export { PLATFORMS } from '../../agent/src/settings';
export type { Platform } from '../generated/settings';
