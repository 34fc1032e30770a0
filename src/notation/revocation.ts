import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  BasicOCSPResponse,
  CertID,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  TBSRequest,
  id_pkix_ocsp_basic,
} from '@peculiar/asn1-ocsp';
import {
  AlgorithmIdentifier,
  AuthorityInfoAccessSyntax,
  CRLDistributionPoints,
  Certificate as AsnCertificate,
  CertificateList,
} from '@peculiar/asn1-x509';
import { Certificate } from '../x509/index.js';
import { verifyPkixSignature } from './pkix.js';

const OID = {
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  crlDistributionPoints: '2.5.29.31',
  adOcsp: '1.3.6.1.5.5.7.48.1',
  sha1: '1.3.14.3.2.26',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

/** Largest OCSP response or CRL fetched. */
const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
/** Clock skew tolerated on thisUpdate. */
const SKEW_MS = 5 * 60_000;

/** One revocation check's outcome, as the `revocation` check reports it. */
export interface RevocationOutcome {
  readonly passed: boolean;
  readonly message?: string;
}

/**
 * What checks a certificate chain's revocation: `RevocationChecker` over the network, or
 * one a caller supplies (an offline cache, a test double that makes no lookups).
 */
export interface ChainRevocationChecker {
  /** `chain`: each certificate followed by its issuer. */
  check(chain: readonly Certificate[], now: Date): Promise<RevocationOutcome>;
}

type Status =
  { status: 'good' } | { status: 'revoked'; at?: Date } | { status: 'unknown'; why: string };

export interface RevocationCheckerOptions {
  /** Per-request timeout; default 5 s. */
  readonly timeoutMs?: number;
}

interface CachedCrl {
  readonly crl: CertificateList;
  readonly nextUpdate: Date | undefined;
}

/** Where a certificate says its revocation status can be found. */
export function revocationPointers(cert: Certificate): { ocsp: string[]; crl: string[] } {
  const asn = AsnConvert.parse(cert.der, AsnCertificate);
  const ocsp: string[] = [];
  const crl: string[] = [];
  for (const ext of asn.tbsCertificate.extensions ?? []) {
    if (ext.extnID === OID.authorityInfoAccess) {
      for (const access of AsnConvert.parse(ext.extnValue.buffer, AuthorityInfoAccessSyntax)) {
        const uri = access.accessLocation.uniformResourceIdentifier;
        if (access.accessMethod === OID.adOcsp && uri !== undefined && /^https?:\/\//.test(uri))
          ocsp.push(uri);
      }
    } else if (ext.extnID === OID.crlDistributionPoints) {
      for (const point of AsnConvert.parse(ext.extnValue.buffer, CRLDistributionPoints)) {
        for (const name of point.distributionPoint?.fullName ?? []) {
          const uri = name.uniformResourceIdentifier;
          if (uri !== undefined && /^https?:\/\//.test(uri)) crl.push(uri);
        }
      }
    }
  }
  return { ocsp, crl };
}

/**
 * Revocation checking of a certificate chain: for each certificate with pointers, OCSP
 * first, then the CRL (cached until its nextUpdate) when OCSP gives no answer. A revoked
 * certificate fails the check, as does one whose status cannot be determined; a chain
 * without pointers passes (nothing can be checked).
 */
export class RevocationChecker implements ChainRevocationChecker {
  readonly #timeoutMs: number;
  readonly #crls = new Map<string, CachedCrl>();

  constructor(options: RevocationCheckerOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  async check(chain: readonly Certificate[], now: Date): Promise<RevocationOutcome> {
    let checked = 0;
    for (let i = 0; i + 1 < chain.length; i++) {
      const cert = chain[i]!;
      const issuer = chain[i + 1]!;
      const pointers = revocationPointers(cert);
      if (pointers.ocsp.length === 0 && pointers.crl.length === 0) continue;
      checked++;
      const status = await this.#status(cert, issuer, pointers, now);
      if (status.status === 'revoked') {
        return {
          passed: false,
          message: `certificate "${cert.subject}" is revoked${status.at !== undefined ? ` since ${status.at.toISOString()}` : ''}`,
        };
      }
      if (status.status === 'unknown') {
        return {
          passed: false,
          message: `revocation status of certificate "${cert.subject}" is unknown: ${status.why}`,
        };
      }
    }
    return checked === 0
      ? { passed: true, message: 'no certificate of the chain carries OCSP or CRL pointers' }
      : { passed: true };
  }

  async #status(
    cert: Certificate,
    issuer: Certificate,
    pointers: { ocsp: string[]; crl: string[] },
    now: Date,
  ): Promise<Status> {
    const reasons: string[] = [];
    for (const url of pointers.ocsp) {
      const status = await this.#ocsp(url, cert, issuer, now).catch((err: unknown): Status => ({
        status: 'unknown',
        why: (err as Error).message,
      }));
      if (status.status !== 'unknown') return status;
      reasons.push(`OCSP ${url}: ${status.why}`);
    }
    for (const url of pointers.crl) {
      const status = await this.#crl(url, cert, issuer, now).catch((err: unknown): Status => ({
        status: 'unknown',
        why: (err as Error).message,
      }));
      if (status.status !== 'unknown') return status;
      reasons.push(`CRL ${url}: ${status.why}`);
    }
    return { status: 'unknown', why: reasons.join('; ') };
  }

  /**
   * One request on its own connection (no keep-alive): OCSP responders such as `openssl ocsp`
   * serve one connection at a time, and revocation requests are rare.
   */
  #fetch(
    url: string,
    init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: Buffer },
  ): Promise<Buffer> {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    return new Promise<Buffer>((resolve, reject) => {
      const req = send(
        url,
        {
          method: init.method,
          headers: init.headers ?? {},
          agent: false,
          timeout: this.#timeoutMs,
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new Error(`HTTP ${res.statusCode ?? '?'}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.byteLength;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(new Error('response too large'));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)));
      req.on('error', reject);
      req.end(init.body);
    });
  }

  async #ocsp(url: string, cert: Certificate, issuer: Certificate, now: Date): Promise<Status> {
    const issuerAsn = AsnConvert.parse(issuer.der, AsnCertificate);
    const certId = new CertID({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: OID.sha1, parameters: null }),
      issuerNameHash: new OctetString(
        createHash('sha1')
          .update(Buffer.from(AsnConvert.serialize(issuerAsn.tbsCertificate.subject)))
          .digest(),
      ),
      issuerKeyHash: new OctetString(
        createHash('sha1')
          .update(Buffer.from(issuerAsn.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey))
          .digest(),
      ),
      serialNumber: AsnConvert.parse(cert.der, AsnCertificate).tbsCertificate.serialNumber,
    });
    const request = new OCSPRequest({
      tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId })] }),
    });
    const body = await this.#fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
      body: Buffer.from(AsnConvert.serialize(request)),
    });
    const response = AsnConvert.parse(body, OCSPResponse);
    if (
      response.responseStatus !== OCSPResponseStatus.successful ||
      response.responseBytes === undefined
    ) {
      return { status: 'unknown', why: `responder answered status ${response.responseStatus}` };
    }
    if (response.responseBytes.responseType !== id_pkix_ocsp_basic) {
      return { status: 'unknown', why: 'not a basic OCSP response' };
    }
    const basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
    // The issuer signs, or a responder it delegated to with the OCSPSigning extended key usage.
    const candidates = [
      issuer,
      ...(basic.certs ?? []).map((c) => new Certificate(new Uint8Array(AsnConvert.serialize(c)))),
    ];
    const tbs = new Uint8Array(
      basic.tbsResponseDataRaw ?? AsnConvert.serialize(basic.tbsResponseData),
    );
    const signer = candidates.find(
      (c) =>
        (c === issuer ||
          (c.isIssuedBy(issuer) &&
            c.isValidAt(now) &&
            (c.extendedKeyUsage ?? []).includes(OID.ocspSigning))) &&
        verifyPkixSignature(
          basic.signatureAlgorithm.algorithm,
          tbs,
          c.publicKey,
          new Uint8Array(basic.signature),
        ) === true,
    );
    if (signer === undefined)
      return { status: 'unknown', why: 'OCSP response signature does not verify' };
    const serial = Buffer.from(certId.serialNumber);
    const single = basic.tbsResponseData.responses.find(
      (r) =>
        Buffer.from(r.certID.serialNumber).equals(serial) &&
        Buffer.from(r.certID.issuerKeyHash.buffer).equals(Buffer.from(certId.issuerKeyHash.buffer)),
    );
    if (single === undefined)
      return { status: 'unknown', why: 'OCSP response does not cover the certificate' };
    if (single.thisUpdate.getTime() > now.getTime() + SKEW_MS) {
      return { status: 'unknown', why: 'OCSP response is not yet valid' };
    }
    if (single.nextUpdate !== undefined && single.nextUpdate < now) {
      return { status: 'unknown', why: 'OCSP response is stale' };
    }
    if (single.certStatus.revoked !== undefined) {
      return { status: 'revoked', at: single.certStatus.revoked.revocationTime };
    }
    if (single.certStatus.good !== undefined) return { status: 'good' };
    return { status: 'unknown', why: 'responder does not know the certificate' };
  }

  async #crl(url: string, cert: Certificate, issuer: Certificate, now: Date): Promise<Status> {
    let cached = this.#crls.get(url);
    if (cached === undefined || (cached.nextUpdate !== undefined && cached.nextUpdate < now)) {
      const crl = AsnConvert.parse(await this.#fetch(url, { method: 'GET' }), CertificateList);
      const issuerName = AsnConvert.parse(issuer.der, AsnCertificate).tbsCertificate.subject;
      if (
        !Buffer.from(AsnConvert.serialize(crl.tbsCertList.issuer)).equals(
          Buffer.from(AsnConvert.serialize(issuerName)),
        )
      ) {
        return { status: 'unknown', why: "CRL is not issued by the certificate's issuer" };
      }
      const tbs = new Uint8Array(crl.tbsCertListRaw ?? AsnConvert.serialize(crl.tbsCertList));
      if (
        verifyPkixSignature(
          crl.signatureAlgorithm.algorithm,
          tbs,
          issuer.publicKey,
          new Uint8Array(crl.signature),
        ) !== true
      ) {
        return { status: 'unknown', why: 'CRL signature does not verify under the issuer' };
      }
      cached = { crl, nextUpdate: crl.tbsCertList.nextUpdate?.getTime() };
      this.#crls.set(url, cached);
    }
    const list = cached.crl.tbsCertList;
    if (list.thisUpdate.getTime().getTime() > now.getTime() + SKEW_MS) {
      return { status: 'unknown', why: 'CRL is not yet valid' };
    }
    if (cached.nextUpdate !== undefined && cached.nextUpdate < now)
      return { status: 'unknown', why: 'CRL is stale' };
    const serial = Buffer.from(
      AsnConvert.parse(cert.der, AsnCertificate).tbsCertificate.serialNumber,
    );
    const revoked = list.revokedCertificates?.find((r) =>
      Buffer.from(r.userCertificate).equals(serial),
    );
    return revoked !== undefined
      ? { status: 'revoked', at: revoked.revocationDate.getTime() }
      : { status: 'good' };
  }
}

let shared: RevocationChecker | undefined;

/** One checker per process, so that CRLs are fetched once. */
export function defaultRevocationChecker(): RevocationChecker {
  shared ??= new RevocationChecker();
  return shared;
}
