#!/usr/bin/env python3
"""A Notary Project plugin for nv2's tests, written from the plugin specification
(plugin-extensibility.md): get-plugin-metadata, describe-key, generate-signature,
generate-envelope and verify-signature, JSON on stdin and stdout, errors as JSON on stderr with
a non-zero exit.

pluginConfig says how to behave:
  keyFile, chainFile  the PEM key and certificate chain (signing certificate first)
  capability          "raw" (SIGNATURE_GENERATOR.RAW) or "envelope" (SIGNATURE_GENERATOR.ENVELOPE)
  capabilities        a comma-separated list that replaces the capabilities above
  version             the version get-plugin-metadata reports (default 1.0.0)
  misbehave           "", "non-json", "wrong-spec", "bad-signature", "hang", "error"
generate-envelope adds, when given, the signed attributes
  verificationPlugin, verificationPluginMinVersion   the io.cncf.notary.* headers
  criticalAttribute   the name of a critical extended attribute (value "value-of-NAME")
verify-signature answers by
  verdict             "" (all pass), "untrusted" (identity fails), "revoked" (revocation fails)
  processAttributes   "none": report no attribute processed
  requestLog          a file to write the request to
"""
import base64
import datetime
import json
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

NAME = sys.argv[0].rsplit("/", 1)[-1][len("notation-"):]
HASHES = {"SHA-256": hashes.SHA256(), "SHA-384": hashes.SHA384(), "SHA-512": hashes.SHA512()}


def fail(code, message):
    sys.stderr.write(json.dumps({"errorCode": code, "errorMessage": message}))
    sys.exit(1)


def load(config):
    with open(config["keyFile"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    with open(config["chainFile"], "rb") as f:
        chain = x509.load_pem_x509_certificates(f.read())
    return key, chain


def key_spec(key):
    if isinstance(key, rsa.RSAPrivateKey):
        return "RSA-%d" % key.key_size
    return {"secp256r1": "EC-256", "secp384r1": "EC-384", "secp521r1": "EC-521"}[key.curve.name]


def sign(key, data, hash_name):
    h = HASHES[hash_name]
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
        return sig, "RSASSA-PSS-" + hash_name
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
    size = (key.curve.key_size + 7) // 8
    # JWS and COSE carry ECDSA as r || s, each at the curve's width.
    return r.to_bytes(size, "big") + s.to_bytes(size, "big"), "ECDSA-" + hash_name


def b64(data):
    return base64.b64encode(data).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verify_signature(request, config):
    if "requestLog" in config:
        with open(config["requestLog"], "w") as f:
            json.dump(request, f)
    signature = request.get("signature") or {}
    attributes = signature.get("criticalAttributes") or {}
    if attributes.get("contentType") != "application/vnd.cncf.notary.payload.v1+json":
        fail("VALIDATION_ERROR", "criticalAttributes.contentType is missing")
    chain = [x509.load_der_x509_certificate(base64.b64decode(c))
             for c in signature.get("certificateChain") or []]
    if not chain:
        fail("VALIDATION_ERROR", "signature.certificateChain is empty")
    asked = (request.get("trustPolicy") or {}).get("signatureVerification") or []
    verdict = config.get("verdict", "")
    results = {}
    for capability in asked:
        if capability == "SIGNATURE_VERIFIER.TRUSTED_IDENTITY":
            if verdict == "untrusted":
                results[capability] = {"success": False, "reason": "signer %s is not on the allow list" % chain[0].subject.rfc4514_string()}
            else:
                results[capability] = {"success": True, "reason": "signer is on the allow list"}
        elif capability == "SIGNATURE_VERIFIER.REVOCATION_CHECK":
            if verdict == "revoked":
                results[capability] = {"success": False, "reason": "the key service reports the key revoked"}
            else:
                results[capability] = {"success": True, "reason": "the key service reports the key active"}
    processed = [] if config.get("processAttributes") == "none" else signature.get("unprocessedAttributes") or []
    return {"verificationResults": results, "processedAttributes": processed}


def main():
    command = sys.argv[1]
    request = json.load(sys.stdin)
    config = request.get("pluginConfig") or {}
    misbehave = config.get("misbehave", "")
    if misbehave == "hang" and command != "get-plugin-metadata":
        time.sleep(3600)
    if misbehave == "non-json" and command != "get-plugin-metadata":
        sys.stdout.write("signed, I promise")
        return
    if misbehave == "error" and command != "get-plugin-metadata":
        fail("ACCESS_DENIED", "the key service refused the credentials")
    if command == "get-plugin-metadata":
        capability = "SIGNATURE_GENERATOR.ENVELOPE" if config.get("capability") == "envelope" else "SIGNATURE_GENERATOR.RAW"
        capabilities = config["capabilities"].split(",") if "capabilities" in config else [capability]
        out = {"name": NAME, "description": "nv2 test plugin", "version": config.get("version", "1.0.0"),
               "url": "https://example.com/plugin", "supportedContractVersions": ["1.0"],
               "capabilities": [c for c in capabilities if c]}
    elif request.get("contractVersion") != "1.0":
        fail("UNSUPPORTED_CONTRACT_VERSION", "only 1.0")
    elif command == "describe-key":
        key, _ = load(config)
        spec = key_spec(key)
        if misbehave == "wrong-spec":
            spec = "EC-384" if spec != "EC-384" else "EC-256"
        out = {"keyId": request["keyId"], "keySpec": spec}
    elif command == "generate-signature":
        key, chain = load(config)
        payload = base64.b64decode(request["payload"])
        if misbehave == "bad-signature":
            payload = payload + b"tampered"
        sig, alg = sign(key, payload, request["hashAlgorithm"])
        out = {"keyId": request["keyId"], "signature": b64(sig), "signingAlgorithm": alg,
               "certificateChain": [b64(c.public_bytes(serialization.Encoding.DER)) for c in chain]}
    elif command == "generate-envelope":
        if request.get("signatureEnvelopeType") != "application/jose+json":
            fail("VALIDATION_ERROR", "this plugin makes JWS envelopes only")
        key, chain = load(config)
        spec = key_spec(key)
        alg = {"RSA-2048": "PS256", "RSA-3072": "PS384", "RSA-4096": "PS512",
               "EC-256": "ES256", "EC-384": "ES384", "EC-521": "ES512"}[spec]
        hash_name = "SHA-" + alg[2:]
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        header = {"alg": alg, "crit": ["io.cncf.notary.signingScheme"],
                  "cty": "application/vnd.cncf.notary.payload.v1+json",
                  "io.cncf.notary.signingScheme": "notary.x509",
                  "io.cncf.notary.signingTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        for member in ("verificationPlugin", "verificationPluginMinVersion"):
            if member in config:
                header["io.cncf.notary." + member] = config[member]
                header["crit"].append("io.cncf.notary." + member)
        if "criticalAttribute" in config:
            header[config["criticalAttribute"]] = "value-of-" + config["criticalAttribute"]
            header["crit"].append(config["criticalAttribute"])
        protected = b64url(json.dumps(header, separators=(",", ":")).encode())
        payload = base64.b64decode(request["payload"])
        if misbehave == "bad-signature":
            payload = payload.replace(b"sha256:", b"sha256:0", 1)
        payload_text = b64url(payload)
        sig, _ = sign(key, (protected + "." + payload_text).encode(), hash_name)
        envelope = {"payload": payload_text, "protected": protected,
                    "header": {"x5c": [b64(c.public_bytes(serialization.Encoding.DER)) for c in chain],
                               "io.cncf.notary.signingAgent": "nv2-test-plugin/1.0.0"},
                    "signature": b64url(sig)}
        out = {"signatureEnvelope": b64(json.dumps(envelope).encode()),
               "signatureEnvelopeType": "application/jose+json",
               "annotations": {"com.example.plugin": "nv2-test-plugin"}}
    elif command == "verify-signature":
        out = verify_signature(request, config)
    else:
        fail("VALIDATION_ERROR", "unknown command " + command)
    sys.stdout.write(json.dumps(out))


main()
