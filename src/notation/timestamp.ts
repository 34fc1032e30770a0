import { createHash } from 'node:crypto';
import { ContentInfo, SignedData, UnprotectedAttributes, id_signedData } from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { TSTInfo, id_ct_tstInfo } from '@peculiar/asn1-tsp';
import { VerificationFailedError } from '../errors.js';
import { MAX_TIME_MS } from '../oci/index.js';
import {
  type Certificate,
  Certificate as X509Certificate,
  TrustAnchors,
  buildPaths,
  checkPathValidity,
} from '../x509/index.js';
import { MAX_CHAIN_CERTIFICATES } from './constants.js';
import { HASH_BY_OID, verifyPkixSignature } from './pkix.js';

const ATTR_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const ATTR_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const EKU_OID = '2.5.29.37';
/** DER of the OBJECT IDENTIFIER id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4), the content-type attribute's value. */
const TST_INFO_OID_DER = Buffer.from('060b2a864886f70d0109100104', 'hex');
const EKU_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';

/** A timestamp token that verified: when, how precisely, and by whom. */
export interface VerifiedTimestamp {
  readonly genTime: Date;
  /** The token's accuracy in milliseconds (0 when it states none). */
  readonly accuracyMs: number;
  /** genTime − accuracy and genTime + accuracy: the signature existed somewhere in between. */
  readonly earliest: Date;
  readonly latest: Date;
  readonly policy: string;
  /** TSA certificate first, trusted `tsa` anchor last. */
  readonly tsaChain: readonly Certificate[];
}

function invalid(message: string): VerificationFailedError {
  return new VerificationFailedError(
    'NV2_ERR_SIGNATURE_INVALID',
    `timestamp countersignature ${message}`,
  );
}

/**
 * Verifies an RFC 3161 timestamp token (CMS SignedData over a TSTInfo) countersigning
 * `signature`: the message imprint is the hash of the signature bytes; the CMS signature over
 * the signed attributes verifies under the TSA certificate, whose extended key usage is
 * exactly timeStamping (critical); and the TSA certificate chains, at genTime, to one of
 * `anchors` (the policy's `tsa` store).
 *
 * @throws VerificationFailedError NV2_ERR_SIGNATURE_INVALID, NV2_ERR_CERT_UNTRUSTED and
 *   the other chain errors of `buildPaths`/`checkPathValidity`
 */
export function verifyTimestampToken(
  token: Uint8Array,
  signature: Uint8Array,
  anchors: readonly Certificate[],
): VerifiedTimestamp {
  let signedData: SignedData;
  let info: TSTInfo;
  let eContent: Buffer;
  try {
    const contentInfo = AsnConvert.parse(token, ContentInfo);
    if (contentInfo.contentType !== id_signedData) throw new Error('not a SignedData');
    signedData = AsnConvert.parse(contentInfo.content, SignedData);
    if (signedData.encapContentInfo.eContentType !== id_ct_tstInfo)
      throw new Error('content is not a TSTInfo');
    const single = signedData.encapContentInfo.eContent?.single;
    if (single === undefined) throw new Error('no encapsulated TSTInfo');
    eContent = Buffer.from(single.buffer);
    info = AsnConvert.parse(eContent, TSTInfo);
  } catch (err) {
    throw invalid(`is not an RFC 3161 timestamp token (${(err as Error).message})`);
  }
  if (info.version !== 1) throw invalid(`has TSTInfo version ${info.version}`);
  const imprintHash = HASH_BY_OID[info.messageImprint.hashAlgorithm.algorithm];
  if (imprintHash === undefined) {
    throw invalid(
      `uses message imprint hash ${info.messageImprint.hashAlgorithm.algorithm}, which is not accepted`,
    );
  }
  const expectedImprint = createHash(imprintHash).update(signature).digest();
  if (!expectedImprint.equals(Buffer.from(info.messageImprint.hashedMessage.buffer))) {
    throw invalid('does not cover this signature (message imprint mismatch)');
  }

  if (signedData.signerInfos.length !== 1) throw invalid('must have exactly one signer');
  const signerInfo = signedData.signerInfos[0]!;
  const digestHash = HASH_BY_OID[signerInfo.digestAlgorithm.algorithm];
  if (digestHash === undefined)
    throw invalid(`uses digest algorithm ${signerInfo.digestAlgorithm.algorithm}`);
  const attrs = signerInfo.signedAttrs;
  if (attrs === undefined || attrs.length === 0) throw invalid('has no signed attributes');
  const attr = (oid: string): ArrayBuffer => {
    const found = attrs.filter((a) => a.attrType === oid);
    if (found.length !== 1 || found[0]!.attrValues.length !== 1)
      throw invalid(`must have one ${oid} attribute`);
    return found[0]!.attrValues[0]!;
  };
  try {
    if (!Buffer.from(attr(ATTR_CONTENT_TYPE)).equals(TST_INFO_OID_DER)) {
      throw invalid('signed content type is not TSTInfo');
    }
    const digest = Buffer.from(AsnConvert.parse(attr(ATTR_MESSAGE_DIGEST), OctetString).buffer);
    if (!digest.equals(createHash(digestHash).update(eContent).digest())) {
      throw invalid('message digest does not match its TSTInfo');
    }
  } catch (err) {
    if (err instanceof VerificationFailedError) throw err;
    throw invalid('has malformed signed attributes');
  }

  const certificates = (signedData.certificates ?? [])
    .map((choice) => choice.certificate)
    .filter((c) => c !== undefined);
  if (certificates.length > MAX_CHAIN_CERTIFICATES) throw invalid('carries too many certificates');
  const sid = signerInfo.sid;
  const signerAsn = certificates.find((c) => {
    if (sid.issuerAndSerialNumber !== undefined) {
      return (
        Buffer.from(c.tbsCertificate.serialNumber).equals(
          Buffer.from(sid.issuerAndSerialNumber.serialNumber),
        ) &&
        Buffer.from(AsnConvert.serialize(c.tbsCertificate.issuer)).equals(
          Buffer.from(AsnConvert.serialize(sid.issuerAndSerialNumber.issuer)),
        )
      );
    }
    const ski = c.tbsCertificate.extensions?.find((e) => e.extnID === '2.5.29.14');
    return (
      ski !== undefined &&
      sid.subjectKeyIdentifier !== undefined &&
      Buffer.from(AsnConvert.parse(ski.extnValue.buffer, OctetString).buffer).equals(
        Buffer.from(sid.subjectKeyIdentifier.buffer),
      )
    );
  });
  if (signerAsn === undefined) throw invalid("does not carry its signer's certificate");
  const eku = signerAsn.tbsCertificate.extensions?.find((e) => e.extnID === EKU_OID);
  const parsed = certificates.map(
    (c) => new X509Certificate(new Uint8Array(AsnConvert.serialize(c))),
  );
  const signer = parsed[certificates.indexOf(signerAsn)]!;
  if (
    eku === undefined ||
    !eku.critical ||
    signer.extendedKeyUsage?.length !== 1 ||
    signer.extendedKeyUsage[0] !== EKU_TIME_STAMPING
  ) {
    throw invalid(
      `signer "${signer.subject}" must have the single, critical extended key usage timeStamping`,
    );
  }

  // The signature covers the DER of the attributes as a SET OF Attribute, not the [0] IMPLICIT
  // tagging they are carried in (RFC 5652 §5.4). UnprotectedAttributes is that very type.
  // Attribute values are kept as parsed bytes, so this re-encoding is the signed one.
  const signedBytes = new Uint8Array(AsnConvert.serialize(new UnprotectedAttributes(attrs)));
  const ok = verifyPkixSignature(
    signerInfo.signatureAlgorithm.algorithm,
    signedBytes,
    signer.publicKey,
    Buffer.from(signerInfo.signature.buffer),
    digestHash,
  );
  if (ok === undefined) {
    throw invalid(
      `uses signature algorithm ${signerInfo.signatureAlgorithm.algorithm}, which is not supported`,
    );
  }
  if (!ok) throw invalid(`signature does not verify under "${signer.subject}"`);

  const genTime = info.genTime;
  const accuracy = info.accuracy;
  const accuracyMs =
    accuracy === undefined
      ? 0
      : (accuracy.seconds ?? 0) * 1000 + (accuracy.millis ?? 0) + (accuracy.micros ?? 0) / 1000;
  // Range-checked before any Date arithmetic: an invalid Date would throw where it is shown.
  if (Number.isNaN(genTime.getTime())) throw invalid('has a genTime that is not a valid time');
  if (
    !Number.isFinite(accuracyMs) ||
    accuracyMs < 0 ||
    Math.abs(genTime.getTime()) + accuracyMs > MAX_TIME_MS
  ) {
    throw invalid('has an accuracy outside the representable time range');
  }
  if (anchors.length === 0)
    throw new VerificationFailedError(
      'NV2_ERR_CERT_UNTRUSTED',
      'no tsa trust store certificates to verify the timestamp with',
    );
  const paths = buildPaths(
    signer,
    parsed.filter((c) => c !== signer),
    new TrustAnchors(anchors),
  );
  let lastError: unknown;
  for (const path of paths) {
    try {
      checkPathValidity(path, genTime);
      return {
        genTime,
        accuracyMs,
        earliest: new Date(genTime.getTime() - accuracyMs),
        latest: new Date(genTime.getTime() + accuracyMs),
        policy: info.policy,
        tsaChain: path,
      };
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
