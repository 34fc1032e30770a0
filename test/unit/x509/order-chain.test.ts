import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { orderCertificateChain } from '../../../src/x509/index.js';
import { intermediateCA, issuedSigner, rootCA, selfSignedSigner } from '../../helpers/pki.js';

const root = await rootCA('Order Root');
const intermediate = await intermediateCA(root, 'Order Intermediate');
const leaf = await issuedSigner(intermediate, 'order leaf');
const subjects = (chain: readonly { subject: string }[]) => chain.map((c) => c.subject);

describe('orderCertificateChain', () => {
  it('orders issuers after the signing certificate and drops repeats', () => {
    const want = subjects([leaf.cert, intermediate.cert, root.cert]);
    for (const given of [
      [leaf, intermediate, root],
      [leaf, root, intermediate],
      [leaf, root, root, intermediate, intermediate, leaf],
    ]) {
      assert.deepEqual(subjects(orderCertificateChain(given.map((c) => c.cert))), want);
    }
  });

  it('keeps a chain that ends below its root, and a lone certificate', async () => {
    assert.deepEqual(
      subjects(orderCertificateChain([leaf.cert, intermediate.cert])),
      subjects([leaf.cert, intermediate.cert]),
    );
    const alone = await selfSignedSigner('alone.example');
    assert.deepEqual(orderCertificateChain([alone.cert, alone.cert]), [alone.cert]);
    assert.deepEqual(orderCertificateChain([]), []);
  });

  it('refuses certificates that are not part of the chain, naming one', async () => {
    const other = await rootCA('Other Root');
    for (const given of [
      [leaf.cert, intermediate.cert, root.cert, other.cert],
      [leaf.cert, root.cert],
    ]) {
      assert.throws(() => orderCertificateChain(given), { code: 'NV2_ERR_INVALID_CERTIFICATE' });
    }
  });
});
