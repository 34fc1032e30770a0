/**
 * RFC 3161 timestamps at signing: the Notary Project signature specification countersigns
 * the signature value (the bytes of the JWS `signature` or the COSE signature) with a
 * timestamp token, carried in the unprotected header as `io.cncf.notary.timestampSignature`.
 * A token is checked before it is stored: the TSA's answer must be granted, carry the nonce
 * asked for and the hash of exactly these signature bytes, and be signed by a certificate
 * with the timeStamping extended key usage that chains to the root the signer trusts, and
 * whose chain is not revoked.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ContentInfo } from '@peculiar/asn1-cms';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  MessageImprint,
  PKIStatus,
  TSTInfo,
  TimeStampReq,
  TimeStampResp,
  id_ct_tstInfo,
} from '@peculiar/asn1-tsp';
import { SignedData } from '@peculiar/asn1-cms';
import { InvalidInputError, VerificationInconclusiveError, isNv2Error } from '../errors.js';
import type { Certificate } from '../x509/index.js';
import type { ChainRevocationChecker } from './revocation.js';
import { type VerifiedTimestamp, verifyTimestampToken } from './timestamp.js';

/** The largest TSA response read: real ones are a few KiB (a token and its chain). */
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** How long a TSA may take to answer. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** SHA-256, the message imprint hash asked for (RFC 5754 §2). */
const SHA256_OID = '2.16.840.1.101.3.4.2.1';

/** Options of `requestTimestamp`. */
export interface TimestampRequestOptions {
  /** The roots the TSA's certificate must chain to (`--timestamp-root-cert`). */
  readonly roots: readonly Certificate[];
  /** Checks the revocation of the TSA's chain; skipped when absent. */
  readonly revocation?: ChainRevocationChecker;
  /** Per-request timeout; default 30 s. */
  readonly timeoutMs?: number;
  /** The fetch to use (tests, proxies); default the global one. */
  readonly fetch?: typeof fetch;
  /** The time revocation is judged at; default now. */
  readonly now?: Date;
}

/** A checked timestamp token and what it says. */
export interface ObtainedTimestamp extends VerifiedTimestamp {
  /** The token (DER CMS SignedData) to store in the envelope. */
  readonly token: Buffer;
}

function unavailable(url: string, message: string, cause?: unknown): VerificationInconclusiveError {
  return new VerificationInconclusiveError(
    'NV2_ERR_TIMESTAMP_UNAVAILABLE',
    `timestamp authority ${url}: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

function rejected(url: string, message: string, cause?: unknown): InvalidInputError {
  return new InvalidInputError(
    'NV2_ERR_TIMESTAMP_INVALID',
    `timestamp authority ${url}: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

/** An INTEGER's content bytes without sign padding, for comparing nonces. */
function integerBytes(value: ArrayBuffer | undefined): Buffer {
  let bytes = Buffer.from(value ?? new ArrayBuffer(0));
  while (bytes.byteLength > 1 && bytes[0] === 0) bytes = bytes.subarray(1);
  return bytes;
}

async function post(url: string, body: Buffer, options: TimestampRequestOptions): Promise<Buffer> {
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/timestamp-query' },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
    });
  } catch (err) {
    throw unavailable(url, `no answer (${(err as Error).message})`, err);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw unavailable(url, `answered HTTP ${response.status}`);
  }
  const type = response.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('application/timestamp-reply')) {
    await response.body?.cancel();
    throw rejected(url, `answered ${type || 'no content type'}, not application/timestamp-reply`);
  }
  const length = Number(response.headers.get('content-length') ?? '0');
  if (length > MAX_RESPONSE_BYTES) {
    await response.body?.cancel();
    throw rejected(url, `answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of response.body ?? []) {
    total += (chunk as Uint8Array).byteLength;
    if (total > MAX_RESPONSE_BYTES)
      throw rejected(url, `answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

/**
 * Obtains an RFC 3161 timestamp token over `signature` from the TSA at `url` and checks it
 * before returning: the status is granted, the nonce is the one sent, the message imprint
 * is the SHA-256 of `signature`, the signer has the single critical timeStamping EKU and
 * chains at genTime to one of `roots`, and (with `revocation`) no certificate of that chain
 * is revoked.
 *
 * @example
 * const { token } = await requestTimestamp('http://tsa.example/tsr', signatureBytes, { roots });
 * @throws VerificationInconclusiveError NV2_ERR_TIMESTAMP_UNAVAILABLE (unreachable, HTTP
 *   error, a rejection by the TSA); InvalidInputError NV2_ERR_TIMESTAMP_INVALID (a response
 *   that does not check out)
 */
export async function requestTimestamp(
  url: string,
  signature: Uint8Array,
  options: TimestampRequestOptions,
): Promise<ObtainedTimestamp> {
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `${JSON.stringify(url)} is not a URL`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') {
    throw new InvalidInputError('NV2_ERR_INVALID_ARGUMENT', `${url} is not an http(s) URL`);
  }
  if (options.roots.length === 0) {
    throw new InvalidInputError(
      'NV2_ERR_INVALID_ARGUMENT',
      'a timestamp needs the root certificate of the TSA to check it against',
    );
  }
  // A positive 64-bit nonce (RFC 3161 §2.4.1): the high bit clear, the first byte non-zero.
  const nonce = randomBytes(8);
  nonce[0] = (nonce[0]! & 0x7f) | 0x01;
  const request = new TimeStampReq({
    messageImprint: new MessageImprint({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256_OID }),
      hashedMessage: new OctetString(createHash('sha256').update(signature).digest()),
    }),
    nonce: new Uint8Array(nonce).buffer,
    certReq: true,
  });
  const answer = await post(url, Buffer.from(AsnConvert.serialize(request)), options);

  let response: TimeStampResp;
  try {
    response = AsnConvert.parse(answer, TimeStampResp);
  } catch (err) {
    throw rejected(url, 'answer is not an RFC 3161 TimeStampResp', err);
  }
  const status = response.status.status;
  if (status !== PKIStatus.granted && status !== PKIStatus.grantedWithMods) {
    const text = response.status.statusString?.join('; ');
    throw unavailable(
      url,
      `refused the request (PKIStatus ${status}${text !== undefined && text !== '' ? `: ${text}` : ''})`,
    );
  }
  if (response.timeStampToken === undefined) throw rejected(url, 'granted, but sent no token');
  const token = Buffer.from(AsnConvert.serialize(response.timeStampToken as ContentInfo));

  let info: TSTInfo;
  try {
    const signedData = AsnConvert.parse(
      (response.timeStampToken as ContentInfo).content,
      SignedData,
    );
    if (signedData.encapContentInfo.eContentType !== id_ct_tstInfo) throw new Error('no TSTInfo');
    info = AsnConvert.parse(signedData.encapContentInfo.eContent!.single!.buffer, TSTInfo);
  } catch (err) {
    throw rejected(url, 'token is not a CMS SignedData over a TSTInfo', err);
  }
  if (!integerBytes(info.nonce).equals(integerBytes(request.nonce))) {
    throw rejected(
      url,
      'answered with another nonce than the one sent (a replayed or mixed-up answer)',
    );
  }
  let verified: VerifiedTimestamp;
  try {
    verified = verifyTimestampToken(token, signature, options.roots);
  } catch (err) {
    throw rejected(url, isNv2Error(err) ? `${err.code}: ${err.message}` : String(err), err);
  }
  if (options.revocation !== undefined) {
    const outcome = await options.revocation.check(verified.tsaChain, options.now ?? new Date());
    if (!outcome.passed) {
      throw rejected(
        url,
        `its certificate chain fails revocation checking: ${outcome.message ?? ''}`,
      );
    }
  }
  return { ...verified, token };
}
