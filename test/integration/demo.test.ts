/**
 * The main job: `nv2 demo` plays the whole story (two registries, publishers, trust policy,
 * refusals and acceptances) and exits 0 only when every step behaved as the story says. Each
 * step's own expectation is checked inside the demo; here the transcript is checked for the
 * moments the story is about.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nv2 } from '../helpers/cli.js';

describe('nv2 demo', () => {
  it('plays the story end to end and exits 0', async () => {
    const result = await nv2(['demo']);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const out = result.stdout;
    assert.match(out, /Every step behaved as the story says \(\d+ commands\)/);
    // Certified content verifies; community content is refused with the key-acquisition hint.
    assert.match(out, /Certified content verifies[\s\S]*?✓ succeeded/);
    assert.match(
      out,
      /NV2_ERR_NO_VALID_SIGNATURE[\s\S]*?nv2 trust add --url http:\/\/127\.0\.0\.1:\d+\/wabbit-networks-ca\.crt/,
    );
    // After trust add, the same verify succeeds.
    assert.match(
      out,
      /acquires wabbit-networks' key[\s\S]*?\$ nv2 verify \S+\/wabbit-networks\/net-monitor:v1\n[\s\S]*?✓ succeeded/,
    );
    // The signer rule of ACME's registry, the moved tag and the tampered signature.
    assert.match(out, /signer role/);
    assert.match(out, /NV2_ERR_NO_SIGNATURE/);
    assert.match(out, /integrity|NV2_ERR_SIGNATURE_INVALID/);
    // Everything, refusals included, is in the transcript on standard output.
    assert.equal(result.stderr, '');
  });

  it('fails with exit code 2 on an unknown flag, in one line', async () => {
    const result = await nv2(['demo', '--bogus']);
    assert.equal(result.code, 2);
    assert.equal(result.stderr.trim().split('\n').length <= 2, true, result.stderr);
  });
});
