/**
 * Where the images of a Kubernetes object are: the pod spec of a Pod, or the pod template of
 * a workload controller, and in it every container, init container and ephemeral container.
 */

/** Kinds whose objects carry a pod spec, and the path to it. */
export const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

/** The lists of a pod spec that hold containers, in the order they are reported. */
export const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;
export type ContainerList = (typeof CONTAINER_LISTS)[number];

/** One image named in an object. */
export interface ImageSite {
  /** JSON Pointer (RFC 6901) of the `image` field, for a JSONPatch. */
  readonly pointer: string;
  readonly list: ContainerList;
  /** The container's name. */
  readonly container: string;
  /** The image exactly as written. */
  readonly image: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Whether objects of `kind` carry images this webhook checks. */
export function hasPodSpec(kind: string): boolean {
  return Object.hasOwn(POD_SPEC_PATHS, kind);
}

/**
 * Every image of `object` (of `kind`), in pod-spec order. Containers without an image are
 * skipped (the API server rejects them anyway). Unknown kinds have none.
 *
 * @example
 * imageSites('Deployment', deployment)
 * // [{ pointer: '/spec/template/spec/containers/0/image', list: 'containers', ... }]
 */
export function imageSites(kind: string, object: unknown): ImageSite[] {
  const path = POD_SPEC_PATHS[kind];
  if (path === undefined) return [];
  let spec: unknown = object;
  for (const key of path) {
    if (!isRecord(spec)) return [];
    spec = spec[key];
  }
  if (!isRecord(spec)) return [];
  const base = `/${path.map(escapePointer).join('/')}`;
  const sites: ImageSite[] = [];
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    containers.forEach((container: unknown, index) => {
      if (!isRecord(container) || typeof container['image'] !== 'string') return;
      sites.push({
        pointer: `${base}/${list}/${index}/image`,
        list,
        container: typeof container['name'] === 'string' ? container['name'] : `#${index}`,
        image: container['image'],
      });
    });
  }
  return sites;
}
