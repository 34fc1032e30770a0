/**
 * The Gatekeeper ConstraintTemplate's Rego (deploy/gatekeeper/): it fails closed — every image
 * without a verified answer from the nv2 provider is a violation — and its warnings-only mode
 * reports nv2's warnings and the pinned name of images named by tag. With an `opa` binary on
 * PATH the policy runs under `opa test` with `external_data` declared in a capabilities file
 * and mocked with answers in the shape Gatekeeper gives the provider's; without it those tests
 * report that they did not run, and the structural checks still run.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { run } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { findOnPath, programMissing } from '../helpers/programs.js';

const GATEKEEPER = fileURLToPath(new URL('../../../deploy/gatekeeper/', import.meta.url));

interface Template {
  spec: {
    crd: { spec: { validation: { openAPIV3Schema: { properties: Record<string, unknown> } } } };
    targets: { target: string; rego: string }[];
  };
}

interface Constraint {
  metadata: { name: string };
  spec: { enforcementAction: string; parameters: Record<string, unknown> };
}

async function documents<T>(file: string): Promise<T[]> {
  return parseAllDocuments(await readFile(join(GATEKEEPER, file), 'utf8')).map(
    (d) => d.toJS() as T,
  );
}

async function template(): Promise<Template> {
  const [doc] = await documents<Template>('constraint-template.yaml');
  return doc!;
}

describe('Gatekeeper template: structure', () => {
  it('every parameter the Rego reads is declared in the constraint schema, and both constraints use only declared ones', async () => {
    const t = await template();
    const rego = t.spec.targets[0]!.rego;
    const declared = Object.keys(t.spec.crd.spec.validation.openAPIV3Schema.properties);
    const read = [...rego.matchAll(/input\.parameters\.([A-Za-z]+)/g)].map((m) => m[1]!);
    assert.ok(read.length > 0);
    for (const name of read) assert.ok(declared.includes(name), `${name} is not declared`);
    const constraints = await documents<Constraint>('constraint.yaml');
    assert.deepEqual(
      constraints.map((c) => [
        c.spec.enforcementAction,
        c.spec.parameters['warningsOnly'] ?? false,
      ]),
      [
        ['deny', false],
        ['warn', true],
      ],
    );
    for (const c of constraints) {
      for (const name of Object.keys(c.spec.parameters)) assert.ok(declared.includes(name), name);
    }
  });

  it('fails closed: a violation rule for images without a verified answer, not only for errors', async () => {
    const rego = (await template()).spec.targets[0]!.rego;
    // The rule that catches images the provider left out, or answered without a pinned digest.
    assert.match(rego, /some image in images\s+not refused\(image\)\s+not verified\(image\)/);
    // A verified answer pins the digest it reports.
    assert.match(rego, /endswith\(value\.image, concat\("", \["@", value\.digest\]\)\)/);
    // No rule compares system_error without checking that it is there.
    assert.doesNotMatch(rego, /checked\.system_error != ""\s*\n\s*msg/);
  });
});

/** Declares Gatekeeper's `external_data` builtin on top of opa's own capabilities. */
async function capabilities(opa: string, dir: string): Promise<string> {
  const current = await run(opa, ['capabilities', '--current']);
  assert.equal(current.code, 0, current.stderr);
  const caps = JSON.parse(current.stdout) as { builtins: unknown[] };
  caps.builtins.push({
    name: 'external_data',
    decl: {
      type: 'function',
      args: [{ type: 'object', dynamic: { key: { type: 'any' }, value: { type: 'any' } } }],
      result: { type: 'object', dynamic: { key: { type: 'any' }, value: { type: 'any' } } },
    },
  });
  const file = join(dir, 'capabilities.json');
  await writeFile(file, JSON.stringify(caps));
  return file;
}

/** `opa version`'s major version (1.x parses Rego v1 unless told `--v0-compatible`). */
async function opaMajor(opa: string): Promise<number> {
  const version = await run(opa, ['version']);
  const m = /^Version:\s*v?(\d+)\./m.exec(version.stdout);
  assert.ok(m !== null, version.stdout);
  return Number(m[1]);
}

/** The tests, in Rego: mocks in the shape Gatekeeper turns a ProviderResponse into. */
const TESTS = String.raw`package nv2signedimages_test

import future.keywords.if
import future.keywords.in

import data.nv2signedimages

digest := "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

pod(images) := {
  "review": {
    "kind": {"group": "", "version": "v1", "kind": "Pod"},
    "object": {"spec": {
      "containers": [{"name": sprintf("c%d", [i]), "image": image} | some i, image in images],
      "ephemeralContainers": [{"name": "debug", "image": "reg.io/debug:v1"}],
    }},
  },
  "parameters": {"exemptImages": ["reg.io/debug:*"]},
}

deployment(images) := {
  "review": {
    "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
    "object": {"spec": {"template": {"spec": {
      "initContainers": [{"name": "init", "image": images[0]}],
      "containers": [{"name": sprintf("c%d", [i]), "image": image} | some i, image in images],
    }}}},
  },
  "parameters": {},
}

warnings_mode(review) := object.union(review, {"parameters": {"warningsOnly": true}})

pinned(key) := concat("", [trim_suffix(key, ":v1"), "@", digest])

value(key) := {"image": pinned(key), "digest": digest, "signer": "CN=acme", "warnings": []}

# What Gatekeeper gives the policy when nv2 verified every key.
all_verified(request) := {
  "responses": [[key, value(key)] | some key in request.keys],
  "errors": [],
  "status_code": 200,
  "system_error": "",
}

# nv2 refused reg.io/bad:v1 and verified the others.
one_refused(request) := {
  "responses": [[key, value(key)] | some key in request.keys; key != "reg.io/bad:v1"],
  "errors": [["reg.io/bad:v1", "NV2_ERR_NO_SIGNATURE: unsigned"]],
  "status_code": 200,
  "system_error": "",
}

# An answer that leaves reg.io/missing:v1 out.
left_out(request) := {
  "responses": [[key, value(key)] | some key in request.keys; key != "reg.io/missing:v1"],
  "errors": [],
  "status_code": 200,
  "system_error": "",
}

empty_answer(_) := {}

system_error(_) := {"responses": [], "errors": [], "status_code": 500, "system_error": "connection refused"}

# Values that do not pin a digest: a bare string, and an image without @digest.
unpinned(request) := {
  "responses": [["reg.io/a:v1", "ok"], ["reg.io/b:v1", {"image": "reg.io/b:v1", "digest": digest}]],
  "errors": [],
  "status_code": 200,
  "system_error": "",
}

with_warnings(request) := {
  "responses": [[key, object.union(value(key), {"warnings": ["unsigned; the audit policy \"staging\" lets it through"]})] | some key in request.keys],
  "errors": [],
  "status_code": 200,
  "system_error": "",
}

messages(violations) := {v.msg | some v in violations}

mentions(violations, text) if {
  some msg in messages(violations)
  contains(msg, text)
}

test_all_verified_admits if {
  v := nv2signedimages.violation with input as pod(["reg.io/a:v1", "reg.io/b:v1"]) with external_data as all_verified
  count(v) == 0
}

test_all_verified_admits_a_deployment if {
  v := nv2signedimages.violation with input as deployment(["reg.io/a:v1", "reg.io/b@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"]) with external_data as all_verified
  count(v) == 0
}

test_refusal_is_a_violation if {
  v := nv2signedimages.violation with input as pod(["reg.io/a:v1", "reg.io/bad:v1"]) with external_data as one_refused
  count(v) == 1
  mentions(v, "image reg.io/bad:v1 refused by nv2: NV2_ERR_NO_SIGNATURE")
}

test_left_out_image_is_a_violation if {
  v := nv2signedimages.violation with input as pod(["reg.io/a:v1", "reg.io/missing:v1"]) with external_data as left_out
  count(v) == 1
  mentions(v, "image reg.io/missing:v1 has no verified answer")
}

test_empty_answer_fails_closed if {
  v := nv2signedimages.violation with input as pod(["reg.io/a:v1", "reg.io/b:v1"]) with external_data as empty_answer
  count(v) == 2
  mentions(v, "image reg.io/a:v1 has no verified answer")
  mentions(v, "image reg.io/b:v1 has no verified answer")
}

test_system_error_fails_closed if {
  v := nv2signedimages.violation with input as pod(["reg.io/a:v1"]) with external_data as system_error
  mentions(v, "nv2 provider failed: connection refused")
  mentions(v, "image reg.io/a:v1 has no verified answer")
}

test_unpinned_values_are_not_verified if {
  v := nv2signedimages.violation with input as pod(["reg.io/a:v1", "reg.io/b:v1"]) with external_data as unpinned
  count(v) == 2
}

test_exempt_images_are_not_asked_for if {
  v := nv2signedimages.violation with input as pod([]) with external_data as empty_answer
  count(v) == 0
}

test_warnings_mode_reports_warnings_and_pinned_names_only if {
  v := nv2signedimages.violation with input as warnings_mode(pod(["reg.io/a:v1", "reg.io/bad:v1"])) with external_data as one_refused
  count(v) == 1
  mentions(v, concat("", ["image reg.io/a:v1 is named by tag, which may move before the pull; nv2 checked reg.io/a@", digest]))
  v2 := nv2signedimages.violation with input as warnings_mode(pod(["reg.io/a@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"])) with external_data as with_warnings
  count(v2) == 1
  mentions(v2, "audit policy \"staging\" lets it through")
}

test_warnings_mode_never_denies_on_its_own if {
  v := nv2signedimages.violation with input as warnings_mode(pod(["reg.io/a:v1"])) with external_data as empty_answer
  count(v) == 0
}
`;

/** How many test rules TESTS holds: `opa test` must report exactly that many passing. */
const TEST_COUNT = [...TESTS.matchAll(/^test_\w+ if \{/gm)].length;

describe(
  'Gatekeeper template under opa',
  { skip: programMissing('opa', 'install OPA (0.70 or later) to run the Rego tests') },
  () => {
    it('opa test: fails closed, refuses, exempts, and reports warnings in warnings-only mode', async () => {
      const opa = findOnPath('opa')!;
      const dir = await tempDir();
      await writeFile(join(dir, 'template.rego'), (await template()).spec.targets[0]!.rego);
      await writeFile(join(dir, 'template_test.rego'), TESTS);
      const caps = await capabilities(opa, dir);
      const v0 = (await opaMajor(opa)) >= 1 ? ['--v0-compatible'] : [];
      const result = await run(opa, ['test', ...v0, '--capabilities', caps, '-v', dir]);
      assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stdout, new RegExp(`PASS: ${TEST_COUNT}/${TEST_COUNT}`));
    });
  },
);
