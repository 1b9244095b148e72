/** Which cluster flavour the manifests target. */
export type Platform = 'openshift' | 'kubernetes';

export const PLATFORMS: readonly Platform[] = ['openshift', 'kubernetes'];
