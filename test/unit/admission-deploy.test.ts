/**
 * The manifests under deploy/ are parsed and validated against the Kubernetes API's own
 * object schemas (the kubernetes-models package: the OpenAPI definitions compiled for ajv),
 * and checked to fit the server they run: flags, routes, paths, namespaces.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1';
import { JSONSchemaProps } from 'kubernetes-models/apiextensions.k8s.io/v1';
import { parseAllDocuments } from 'yaml';
import { POD_SPEC_PATHS } from '../../src/admission/index.js';
import { parseTrustStoreRef, validateTrustPolicy } from '../../src/policy/index.js';
import { createProgram } from '../../src/cli/program.js';

const DEPLOY = fileURLToPath(new URL('../../../deploy/', import.meta.url));

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(path)));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

async function loadObjects(): Promise<{ file: string; object: K8sObject }[]> {
  const out: { file: string; object: K8sObject }[] = [];
  for (const file of await yamlFiles(DEPLOY)) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file}: YAML errors`);
      out.push({ file, object: doc.toJS() as K8sObject });
    }
  }
  return out;
}

type Model = new (data: unknown) => { validate(): void };

/** The schema-backed model class of a built-in kind, or undefined for a custom resource. */
async function modelOf(apiVersion: string, kind: string): Promise<Model | undefined> {
  const path = apiVersion.includes('/') ? apiVersion : `v1`;
  const [group] = apiVersion.split('/');
  if (apiVersion.includes('/') && !/\.k8s\.io$|^(apps|batch|policy|autoscaling)$/.test(group!)) {
    return undefined;
  }
  const module = (await import(`kubernetes-models/${path}`)) as Record<string, Model | undefined>;
  const model = module[kind];
  assert.ok(model !== undefined, `no schema for ${apiVersion} ${kind}`);
  return model;
}

function validate(model: Model, data: unknown): void {
  new model(data).validate();
}

describe('deploy/ manifests', async () => {
  const objects = await loadObjects();
  const byKind = (kind: string): K8sObject[] =>
    objects.filter((o) => o.object.kind === kind).map((o) => o.object);

  it('every built-in object is valid under its Kubernetes schema', async () => {
    let checked = 0;
    for (const { file, object } of objects) {
      const model = await modelOf(object.apiVersion, object.kind);
      if (model === undefined) continue;
      assert.doesNotThrow(
        () => validate(model, object),
        `${file}: ${object.kind}/${object.metadata.name}`,
      );
      checked++;
    }
    assert.ok(checked >= 9, `only ${checked} objects checked`);
  });

  it('the schemas do refuse a broken object', async () => {
    const deployment = structuredClone(byKind('Deployment')[0]!);
    (deployment['spec'] as Record<string, unknown>)['replicas'] = 'two';
    const model = (await modelOf('apps/v1', 'Deployment'))!;
    assert.throws(() => validate(model, deployment), /replicas/);
  });

  it('Gatekeeper resources: metadata and the constraint schema are valid, names fit together', () => {
    for (const kind of ['Provider', 'ConstraintTemplate', 'Nv2SignedImages']) {
      const [object] = byKind(kind);
      assert.ok(object !== undefined, kind);
      new ObjectMeta(object.metadata).validate();
    }
    const template = byKind('ConstraintTemplate')[0]!;
    const spec = template['spec'] as {
      crd: { spec: { names: { kind: string }; validation: { openAPIV3Schema: unknown } } };
      targets: { target: string; rego: string }[];
    };
    new JSONSchemaProps(spec.crd.spec.validation.openAPIV3Schema as never).validate();
    assert.equal(spec.crd.spec.names.kind, 'Nv2SignedImages');
    assert.equal(template.metadata.name, spec.crd.spec.names.kind.toLowerCase());
    assert.match(spec.targets[0]!.rego, /^package nv2signedimages$/m);
    const provider = byKind('Provider')[0]!;
    assert.match(spec.targets[0]!.rego, new RegExp(`"provider": "${provider.metadata.name}"`));
    assert.equal(provider.apiVersion, 'externaldata.gatekeeper.sh/v1beta1');
    const url = new URL((provider['spec'] as { url: string }).url);
    assert.equal(url.protocol, 'https:');
    assert.equal(url.pathname, '/provider');
    assert.equal(url.hostname, 'nv2-admission.nv2-system');
  });

  it('the Deployment runs non-root on a read-only root filesystem, with flags serve has', async () => {
    const deployment = byKind('Deployment')[0]!;
    const pod = (deployment['spec'] as { template: { spec: Record<string, unknown> } }).template
      .spec;
    const podSecurity = pod['securityContext'] as Record<string, unknown>;
    assert.equal(podSecurity['runAsNonRoot'], true);
    const [container] = pod['containers'] as {
      args: string[];
      securityContext: Record<string, unknown>;
      volumeMounts: { mountPath: string }[];
    }[];
    assert.equal(container!.securityContext['readOnlyRootFilesystem'], true);
    assert.equal(container!.securityContext['allowPrivilegeEscalation'], false);
    assert.deepEqual(container!.args.slice(0, 2), ['admission', 'serve']);
    const serve = (await createProgram()).commands
      .find((c) => c.name() === 'admission')!
      .commands.find((c) => c.name() === 'serve')!;
    const flags = new Set(serve.options.map((o) => o.long));
    for (const arg of container!.args.slice(2)) {
      assert.ok(flags.has(arg.split('=')[0]!), `${arg} is not a flag of nv2 admission serve`);
    }
    const volumes = pod['volumes'] as {
      projected?: {
        sources: { configMap: { name: string; items: { key: string; path: string }[] } }[];
      };
    }[];
    const items = volumes.flatMap(
      (v) =>
        v.projected?.sources.flatMap((s) =>
          s.configMap.items.map((i) => ({ ...i, configMap: s.configMap.name })),
        ) ?? [],
    );
    // The trust ConfigMap holds a valid trust policy, and every store it names is projected
    // into the tree the server reads (truststore/x509/<type>/<name>/).
    const configMap = byKind('ConfigMap').find((c) => c.metadata.name === items[0]?.configMap)!;
    const data = configMap['data'] as Record<string, string>;
    for (const item of items) assert.ok(item.key in data, `no key ${item.key} in the ConfigMap`);
    assert.ok(items.some((i) => i.key === 'trustpolicy.json' && i.path === 'trustpolicy.json'));
    const policy = validateTrustPolicy(JSON.parse(data['trustpolicy.json']!));
    for (const statement of policy.trustPolicies) {
      for (const value of statement.trustStores ?? []) {
        const ref = parseTrustStoreRef(value);
        assert.ok(
          items.some((i) => i.path.startsWith(`truststore/x509/${ref.type}/${ref.name}/`)),
          `store ${value} of statement ${statement.name} is not projected`,
        );
      }
    }
  });

  it('the webhooks fail closed, skip their own namespace, and cover every workload kind', () => {
    const resources: Record<string, string> = {
      Pod: 'pods',
      Deployment: 'deployments',
      ReplicaSet: 'replicasets',
      ReplicationController: 'replicationcontrollers',
      StatefulSet: 'statefulsets',
      DaemonSet: 'daemonsets',
      Job: 'jobs',
      CronJob: 'cronjobs',
    };
    for (const [kind, path] of [
      ['ValidatingWebhookConfiguration', '/validate'],
      ['MutatingWebhookConfiguration', '/mutate'],
    ] as const) {
      const [config] = byKind(kind);
      const [webhook] = config!['webhooks'] as {
        failurePolicy: string;
        sideEffects: string;
        clientConfig: { service: { name: string; namespace: string; path: string } };
        namespaceSelector: {
          matchExpressions: { key: string; operator: string; values: string[] }[];
        };
        rules: { resources: string[] }[];
      }[];
      assert.equal(webhook!.failurePolicy, 'Fail');
      assert.equal(webhook!.sideEffects, 'None');
      assert.equal(webhook!.clientConfig.service.path, path);
      const own = webhook!.clientConfig.service.namespace;
      assert.ok(
        webhook!.namespaceSelector.matchExpressions.some(
          (e) =>
            e.key === 'kubernetes.io/metadata.name' &&
            e.operator === 'NotIn' &&
            e.values.includes(own),
        ),
      );
      const covered = new Set(webhook!.rules.flatMap((r) => r.resources));
      for (const kindName of Object.keys(POD_SPEC_PATHS)) {
        assert.ok(covered.has(resources[kindName]!), `${kind} misses ${kindName}`);
      }
      assert.ok(covered.has('pods/ephemeralcontainers'));
      const service = byKind('Service')[0]!;
      assert.equal(webhook!.clientConfig.service.name, service.metadata.name);
      assert.equal(own, service.metadata.namespace);
    }
  });
});
