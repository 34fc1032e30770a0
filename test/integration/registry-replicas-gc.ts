/**
 * Online garbage collection on replicas sharing a PostgreSQL database (used by
 * registry-replicas.test.ts): garbage made and left to age past the grace period, then images
 * pushed through the balancer while `nv2 registry gc --online` runs (and the replicas' own
 * background collection): every pushed and every referenced thing stays, the garbage goes.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { nv2, ok } from '../helpers/cli.js';
import type { ServeProcess } from '../helpers/serve.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const REPO = 'acme/gc';

/** fetch, failing with the URL it could not reach. */
async function call(url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new Error(`${init.method ?? 'GET'} ${url}: ${String((err as Error).cause ?? err)}`);
  }
}

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** What the test needs from the replica suite. */
export interface GcScene {
  readonly replicas: readonly ServeProcess[];
  /** `http://host:port` of the balancer. */
  readonly base: string;
  /** A config file of the replicas. */
  readonly config: string;
  readonly graceSeconds: number;
  /** A bearer token for `scope`. */
  token(base: string, scope: string): Promise<string>;
}

export async function onlineGcDuringPushes(scene: GcScene): Promise<void> {
  try {
    await run(scene);
  } catch (err) {
    // What the replicas said last, to tell a failed request from a failed replica.
    const tails = scene.replicas.map(
      (r) =>
        `${r.url} (exit ${r.child.exitCode ?? r.child.signalCode ?? 'none'}):\n${r.lines.slice(-5).join('\n')}`,
    );
    throw new Error(`${(err as Error).message}\n${tails.join('\n')}`, { cause: err });
  }
}

async function run(scene: GcScene): Promise<void> {
  const { replicas, base } = scene;
  const auth = {
    Authorization: `Bearer ${await scene.token(base, `repository:${REPO}:pull,push,delete`)}`,
  };
  let next = 0;
  /** Each request to the next replica in turn, as a balancer would. */
  const replica = (): string => replicas[next++ % replicas.length]!.url;

  async function pushBlob(data: Buffer): Promise<{ digest: string; size: number }> {
    const digest = sha256(data);
    const res = await call(`${replica()}/v2/${REPO}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body: data,
    });
    assert.equal(res.status, 201, await res.text());
    return { digest, size: data.length };
  }

  async function pushImage(
    reference: string | undefined,
    subject?: { digest: string; size: number },
  ): Promise<{ digest: string; size: number; blobs: string[] }> {
    const config = await pushBlob(
      Buffer.from(JSON.stringify({ n: randomBytes(8).toString('hex') })),
    );
    const layers = [await pushBlob(randomBytes(50_000)), await pushBlob(randomBytes(20_000))];
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l })),
        ...(subject !== undefined ? { subject: { mediaType: OCI_MANIFEST, ...subject } } : {}),
      }),
    );
    const digest = sha256(manifest);
    const res = await call(`${replica()}/v2/${REPO}/manifests/${reference ?? digest}`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': OCI_MANIFEST },
      body: manifest,
    });
    assert.equal(res.status, 201, await res.text());
    return {
      digest,
      size: manifest.length,
      blobs: [config.digest, ...layers.map((l) => l.digest)],
    };
  }

  async function status(
    kind: 'blobs' | 'manifests',
    reference: string,
    url = base,
  ): Promise<number> {
    const res = await call(`${url}/v2/${REPO}/${kind}/${reference}`, {
      method: 'HEAD',
      headers: { ...auth, Accept: OCI_MANIFEST },
    });
    return res.status;
  }

  // The offline collector reads links a database-backed registry does not keep: refused.
  const offline = await nv2(['registry', 'gc', '--config', scene.config]);
  assert.notEqual(offline.code, 0);
  assert.match(offline.stderr, /gc --online/);

  // Garbage: a blob no manifest names; an untagged image and a signature of it (a signature
  // keeps nothing alive). Kept: a tagged image and its signature.
  const orphan = await pushBlob(randomBytes(10_000));
  const untagged = await pushImage(undefined);
  const untaggedSignature = await pushImage(undefined, untagged);
  const kept = await pushImage('kept');
  const keptSignature = await pushImage(undefined, kept);
  await sleep((scene.graceSeconds + 1) * 1000);

  // Pushes (each younger than the grace period while it runs) and collections at once.
  const pushed: { tag: string; digest: string; blobs: string[] }[] = [];
  const pushes = (async () => {
    for (let i = 0; i < 6; i++) pushed.push({ tag: `p${i}`, ...(await pushImage(`p${i}`)) });
  })();
  const collections = (async () => {
    for (let i = 0; i < 3; i++) {
      ok(
        await nv2(['registry', 'gc', '--online', '--config', scene.config, '--output', 'json']),
        'gc --online',
      );
    }
  })();
  await Promise.all([pushes, collections]);

  // The garbage goes (collected by the CLI runs or the replicas' background task)...
  const garbage: [kind: 'blobs' | 'manifests', reference: string][] = [
    ['blobs', orphan.digest],
    ['manifests', untagged.digest],
    ['manifests', untaggedSignature.digest],
    ...untagged.blobs.map((d): ['blobs', string] => ['blobs', d]),
  ];
  for (let attempt = 0; ; attempt++) {
    const left = [];
    for (const [kind, reference] of garbage) {
      if ((await status(kind, reference)) !== 404) left.push(reference);
    }
    if (left.length === 0) break;
    assert.ok(attempt < 40, `not collected: ${left.join(' ')}`);
    await sleep(250);
  }
  // ... and everything referenced stays, on every replica.
  for (const r of replicas) {
    for (const image of [...pushed, kept]) {
      assert.equal(await status('manifests', image.digest, r.url), 200, image.digest);
      for (const blob of image.blobs) assert.equal(await status('blobs', blob, r.url), 200, blob);
    }
    assert.equal(await status('manifests', keptSignature.digest, r.url), 200);
    for (const p of pushed) {
      const res = await call(`${r.url}/v2/${REPO}/manifests/${p.tag}`, {
        headers: { ...auth, Accept: OCI_MANIFEST },
      });
      assert.equal(res.headers.get('docker-content-digest'), p.digest);
      await res.arrayBuffer();
    }
  }
  // Blob bytes too: a pull of a layer streams it whole.
  const layer = await call(`${replicas[0]!.url}/v2/${REPO}/blobs/${kept.blobs[1]!}`, {
    headers: auth,
  });
  assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), kept.blobs[1]);
}
