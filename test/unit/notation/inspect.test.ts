/** `nv2 inspect` recognizes Notary Project envelopes without being told their format. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nv2 } from '../../helpers/cli.js';
import { NOTATION_DIR } from './helpers.js';

const file = (path: string): string => fileURLToPath(new URL(path, NOTATION_DIR));

describe('nv2 inspect on Notary Project envelopes', () => {
  it('shows a JWS envelope: headers, payload, chain', async () => {
    const result = await nv2(['inspect', '--output', 'json', file('jws/ca_valid_sig_env.json')]);
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as {
      format: string;
      protectedHeader: Record<string, unknown>;
      payload: { targetArtifact: { digest: string } };
      certificates: { sha256Fingerprint: string }[];
    };
    assert.equal(out.format, 'application/jose+json');
    assert.equal(out.protectedHeader['alg'], 'PS384');
    assert.equal(
      out.payload.targetArtifact.digest,
      'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e',
    );
    assert.equal(
      out.certificates[1]?.sha256Fingerprint,
      '86df80412a63eb55b5c7a4ad6a8c396ce3188c167c6226da1b5bbbee8443d644',
    );
  });

  it('shows a COSE envelope with its timestamp token', async () => {
    const result = await nv2(['inspect', file('cose/coseWithTimestamp.sig')]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Envelope: application\/cose/);
    assert.match(result.stdout, /io\.cncf\.notary\.signingScheme: notary\.x509/);
    assert.match(result.stdout, /io\.cncf\.notary\.timestampSignature: <\d+ bytes>/);
    assert.match(result.stdout, /CN=alpine/);
  });
});
