import { InvalidInputError } from '../errors.js';
import {
  type Algorithm,
  type EnvelopeRequest,
  type GeneratedEnvelope,
  type KeySignature,
  type SigningKey,
  decodeBase64,
  isKeySpec,
} from '../signature/index.js';
import { CONTRACT_VERSION, type Plugin, responseString } from './plugin.js';

/** The plugin specification's names of the algorithms nv2 asks for. */
const SIGNING_ALGORITHMS: Readonly<Partial<Record<Algorithm, string>>> = {
  PS256: 'RSASSA-PSS-SHA-256',
  PS384: 'RSASSA-PSS-SHA-384',
  PS512: 'RSASSA-PSS-SHA-512',
  ES256: 'ECDSA-SHA-256',
  ES384: 'ECDSA-SHA-384',
  ES512: 'ECDSA-SHA-512',
};
const HASHES: Readonly<Record<string, string>> = {
  '256': 'SHA-256',
  '384': 'SHA-384',
  '512': 'SHA-512',
};

function invalid(plugin: Plugin, message: string): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_PLUGIN_INVALID_RESPONSE',
    `plugin ${plugin.name}: ${message}`,
  );
}

function decode(plugin: Plugin, value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || value === '') throw invalid(plugin, `${what} is not base64`);
  try {
    return decodeBase64(value, what);
  } catch {
    throw invalid(plugin, `${what} is not base64`);
  }
}

/**
 * Opens a key behind a plugin as a signing key. With the SIGNATURE_GENERATOR.RAW capability
 * the plugin signs the bytes nv2 assembles (`describe-key`, then `generate-signature`); with
 * SIGNATURE_GENERATOR.ENVELOPE only, it makes whole envelopes (`generate-envelope`), which
 * the signing path checks. Either way nothing a plugin returns is used before it is checked.
 *
 * @example
 * const key = await openPluginKey(await findPlugin('com.example.kms', dirs), 'key-1', {});
 * @throws InvalidInputError NV2_ERR_PLUGIN_* (see docs/errors.md)
 */
export async function openPluginKey(
  plugin: Plugin,
  keyId: string,
  pluginConfig: Readonly<Record<string, string>> = {},
): Promise<SigningKey> {
  const metadata = await plugin.metadata(pluginConfig);
  const name = `plugin ${plugin.name} key ${keyId}`;
  const base = { contractVersion: CONTRACT_VERSION, keyId, pluginConfig };
  const raw = metadata.capabilities.includes('SIGNATURE_GENERATOR.RAW');
  const envelope = metadata.capabilities.includes('SIGNATURE_GENERATOR.ENVELOPE');
  if (!raw && !envelope) {
    throw invalid(plugin, 'cannot sign: it has neither signing capability');
  }
  if (!raw) {
    return {
      name,
      sign: () => Promise.reject(invalid(plugin, 'makes whole envelopes only')),
      async generateEnvelope(request: EnvelopeRequest): Promise<GeneratedEnvelope> {
        const command = 'generate-envelope';
        const r = await plugin.run(command, {
          ...base,
          payload: Buffer.from(request.payload).toString('base64'),
          payloadType: request.payloadType,
          signatureEnvelopeType: request.envelopeType,
          ...(request.expiryDurationInSeconds !== undefined
            ? { expiryDurationInSeconds: request.expiryDurationInSeconds }
            : {}),
        });
        const annotations = r['annotations'] ?? {};
        if (
          typeof annotations !== 'object' ||
          annotations === null ||
          !Object.values(annotations).every((v) => typeof v === 'string')
        ) {
          throw invalid(plugin, `${command} annotations are not an object of strings`);
        }
        return {
          envelope: decode(plugin, r['signatureEnvelope'], 'signatureEnvelope'),
          envelopeType: responseString(r, 'signatureEnvelopeType', plugin.name, command),
          annotations: annotations as Record<string, string>,
        };
      },
    };
  }
  const described = await plugin.run('describe-key', base);
  const keySpec = responseString(described, 'keySpec', plugin.name, 'describe-key');
  if (responseString(described, 'keyId', plugin.name, 'describe-key') !== keyId) {
    throw invalid(plugin, 'describe-key answered for another key');
  }
  if (!isKeySpec(keySpec)) {
    throw invalid(
      plugin,
      `describe-key answered key spec "${keySpec}", not one of RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521`,
    );
  }
  return {
    name,
    keySpec,
    async sign(alg: Algorithm, data: Uint8Array): Promise<KeySignature> {
      const signingAlgorithm = SIGNING_ALGORITHMS[alg];
      if (signingAlgorithm === undefined) {
        throw new InvalidInputError(
          'NV2_ERR_UNSUPPORTED_ALGORITHM',
          `${name} signs the Notary Project algorithms only, not ${alg}`,
        );
      }
      const command = 'generate-signature';
      const r = await plugin.run(command, {
        ...base,
        keySpec,
        hashAlgorithm: HASHES[alg.slice(2)],
        payload: Buffer.from(data).toString('base64'),
      });
      if (responseString(r, 'keyId', plugin.name, command) !== keyId) {
        throw invalid(plugin, `${command} answered for another key`);
      }
      const answered = responseString(r, 'signingAlgorithm', plugin.name, command);
      if (answered !== signingAlgorithm) {
        throw invalid(plugin, `${command} signed with ${answered}, not ${signingAlgorithm}`);
      }
      const chain = r['certificateChain'];
      if (!Array.isArray(chain) || chain.length === 0) {
        throw invalid(plugin, `${command} response has no certificateChain`);
      }
      return {
        signature: decode(plugin, r['signature'], 'signature'),
        certificateChain: chain.map((c, i) => decode(plugin, c, `certificateChain[${i}]`)),
      };
    },
  };
}
