/**
 * Legacy discovery documents (`/apis`, `/apis/<group>`, `/apis/<group>/<version>`): what the aggregation
 * layer reads to publish the group, and what `oc api-resources` then shows.
 */
import { API_GROUP, API_VERSION, CATEGORIES, GROUP_VERSION, KIND, RESOURCE, SHORT_NAMES, SINGULAR, SUBRESOURCE_NAMES, VERBS } from './paths';

const groupDoc = {
  name: API_GROUP,
  versions: [{ groupVersion: GROUP_VERSION, version: API_VERSION }],
  preferredVersion: { groupVersion: GROUP_VERSION, version: API_VERSION },
};

export const DISCOVERY: Readonly<Record<string, unknown>> = {
  '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [groupDoc] },
  [`/apis/${API_GROUP}`]: { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc },
  [`/apis/${GROUP_VERSION}`]: {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: GROUP_VERSION,
    resources: [
      { name: RESOURCE, singularName: SINGULAR, namespaced: true, kind: KIND, verbs: [...VERBS], shortNames: [...SHORT_NAMES], categories: [...CATEGORIES] },
      ...SUBRESOURCE_NAMES.map((s) => ({ name: `${RESOURCE}/${s}`, singularName: '', namespaced: true, kind: KIND, verbs: ['get'] })),
    ],
  },
};
