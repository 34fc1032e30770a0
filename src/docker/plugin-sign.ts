import { readBoundedFile } from '../content/index.js';
import { InvalidInputError } from '../errors.js';
import { pushSignature } from '../notary/index.js';
import { type Descriptor, formatReference, parseReference } from '../oci/index.js';
import { type Algorithm, isAlgorithm, sign } from '../signature/index.js';
import { signingCertificateProblems } from '../trust/index.js';
import { keysMatch, loadCertificates, loadPrivateKey } from '../x509/index.js';
import { manifestFromDockerSave } from './archive.js';
import { loadPluginConfig } from './config.js';
import { keepSignature } from './keeper.js';
import { SIGN_USAGE, parseFlags } from './plugin-args.js';
import type { PluginContext } from './plugin-registry.js';
import { plural, repositoryName, withRepository } from './plugin-registry.js';

/**
 * `docker nv2 notary sign`: signs an image's manifest, the one `docker save` describes (the
 * signature is kept until `docker nv2 push`) or, with `--remote`, the one the registry holds
 * (the signature is pushed there at once).
 */

const MAX_PEM_BYTES = 1024 * 1024;

export async function signImage(
  args: readonly string[],
  context: Required<PluginContext>,
  configDir: string,
): Promise<number> {
  const { values, positionals } = parseFlags('notary sign', {
    args: [...args],
    allowPositionals: true,
    options: {
      key: { type: 'string', short: 'k' },
      cert: { type: 'string', short: 'c' },
      remote: { type: 'boolean' },
      reference: { type: 'string', short: 'r', multiple: true },
      expiry: { type: 'string', short: 'e' },
      alg: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    context.stdout.write(SIGN_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'docker nv2 notary sign needs one image',
    );
  }
  const image = positionals[0]!;
  const config = await loadPluginConfig(configDir);
  const keyPath = values.key ?? config.signingKey;
  const certPath = values.cert ?? config.signingCert;
  if (keyPath === undefined) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'docker nv2 notary sign needs the signing key: --key FILE (or signingKey in nv2.json)',
    );
  }
  let algorithm: Algorithm | undefined;
  if (values.alg !== undefined) {
    if (!isAlgorithm(values.alg)) {
      throw new InvalidInputError(
        'NV2_ERR_UNSUPPORTED_ALGORITHM',
        `unknown algorithm ${JSON.stringify(values.alg)}`,
      );
    }
    algorithm = values.alg;
  }
  let expiresIn: number | undefined;
  if (values.expiry !== undefined) {
    expiresIn = Number(values.expiry);
    if (!Number.isSafeInteger(expiresIn) || expiresIn <= 0) {
      throw new InvalidInputError(
        'NV2_ERR_INVALID_ARGUMENT',
        `--expiry wants a number of seconds, got ${JSON.stringify(values.expiry)}`,
      );
    }
  }
  const key = loadPrivateKey(await readBoundedFile(keyPath, MAX_PEM_BYTES, 'key'), keyPath);
  const chain =
    certPath !== undefined
      ? loadCertificates(await readBoundedFile(certPath, MAX_PEM_BYTES, 'certificate'), certPath)
      : [];
  if (chain.length > 0 && !keysMatch(key, chain[0]!.publicKey)) {
    throw new InvalidInputError(
      'NV2_ERR_KEY_CERT_MISMATCH',
      `the key ${keyPath} does not belong to the first certificate in ${certPath ?? ''}`,
    );
  }
  const ref = parseReference(image);
  const named =
    ref.tag === undefined && ref.digest === undefined
      ? formatReference({ ...ref, tag: 'latest' })
      : formatReference(ref);
  const references = values.reference ?? [named];
  const now = new Date();
  let subject: Descriptor;
  if (values.remote === true) {
    subject = await withRepository(config, context.env, ref, async (repository) => {
      const d = await repository.resolve(ref.digest ?? ref.tag ?? 'latest');
      return { mediaType: d.mediaType, digest: d.digest, size: d.size };
    });
  } else {
    const generated = await manifestFromDockerSave(context.docker, image, {
      hint: '; to sign what the registry holds, add --remote',
    });
    subject = generated.descriptor;
    if (generated.uncompressedLayers > 0) {
      context.stderr.write(
        `nv2: warning: ${plural(generated.uncompressedLayers, 'layer')} of ${image} ${generated.uncompressedLayers === 1 ? 'is' : 'are'} stored uncompressed; docker push compresses them, so the pushed manifest will not be ${subject.digest} and this signature will not apply to it: after docker push, sign with docker nv2 notary sign --remote ${image}, or push an OCI layout with nv2 copy to keep digests (see "Using nv2 with docker" in the README)\n`,
      );
    }
  }
  for (const problem of chain.length > 0
    ? signingCertificateProblems(chain[0]!, references, now)
    : []) {
    context.stderr.write(`nv2: warning: ${problem}; the signature will not verify\n`);
  }
  const jws = sign(
    subject,
    { key, certificateChain: chain.map((c) => c.der) },
    {
      references,
      now,
      ...(algorithm !== undefined ? { algorithm } : {}),
      ...(expiresIn !== undefined ? { expiresIn } : {}),
    },
  );
  if (values.remote === true) {
    // The image is in the registry already: its signature goes there now.
    const manifest = await withRepository(config, context.env, ref, (repository) =>
      pushSignature(repository, subject, jws, { now }),
    );
    context.stderr.write(
      `nv2: signed ${image} (${subject.digest}); pushed signature ${manifest.digest} to ${repositoryName(ref)}\n`,
    );
  } else {
    const path = await keepSignature(configDir, subject, jws, { references, now });
    context.stderr.write(
      `nv2: signed ${image} (${subject.digest}); kept in ${path} until docker nv2 push\n`,
    );
  }
  context.stdout.write(`${subject.digest}\n`);
  return 0;
}
