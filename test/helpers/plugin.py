#!/usr/bin/env python3
"""A Notary Project plugin for nv2's tests, written from the plugin specification
(plugin-extensibility.md): get-plugin-metadata, describe-key, generate-signature and
generate-envelope, JSON on stdin and stdout, errors as JSON on stderr with a non-zero exit.

pluginConfig says how to behave:
  keyFile, chainFile  the PEM key and certificate chain (signing certificate first)
  capability          "raw" (SIGNATURE_GENERATOR.RAW) or "envelope" (SIGNATURE_GENERATOR.ENVELOPE)
  misbehave           "", "non-json", "wrong-spec", "bad-signature", "hang", "error"
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
        out = {"name": NAME, "description": "nv2 test plugin", "version": "1.0.0",
               "url": "https://example.com/plugin", "supportedContractVersions": ["1.0"],
               "capabilities": [capability]}
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
    else:
        fail("VALIDATION_ERROR", "unknown command " + command)
    sys.stdout.write(json.dumps(out))


main()
