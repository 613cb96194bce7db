#!/usr/bin/python3
"""Drive the kmip-adapter's cryptographic operations with Debian's PyKMIP.

Usage: pykmip_crypto.py --port PORT --pki DIR --version 1.4

Creates (and activates) an AES-256 key, an RSA-2048 key pair, an EC P-256
key pair and an HMAC-SHA256 key, then encrypts, decrypts, signs, verifies
and MACs with them through the server. Prints one JSON object: the inputs
and outputs (hex) for the Go test to check with its own cryptography, and
the public and MAC keys (Get) so that it can. Errors of single steps are
recorded as {"error": ..., "reason": ...}.
"""

import argparse
import json
import logging
import sys

from kmip.core import enums
from kmip.pie.client import ProxyKmipClient

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}

U = enums.CryptographicUsageMask
MESSAGE = b"The quick brown fox jumps over the lazy dog"


def failure(exc):
    out = {"error": str(exc) or type(exc).__name__, "type": type(exc).__name__}
    reason = getattr(exc, "reason", None)
    if reason is not None:
        out["reason"] = getattr(reason, "name", str(reason))
    return out


def step(out, name, fn):
    """Run one step, recording its result or its failure under name."""
    try:
        out[name] = fn()
    except Exception as exc:  # recorded for the Go test to assert on
        out[name] = failure(exc)


def symmetric(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 256,
                        cryptographic_usage_mask=[U.ENCRYPT, U.DECRYPT])
    client.activate(uid)
    out = {}
    # Not GCM: PyKMIP 0.10 neither reads nor sends the Authenticated
    # Encryption Tag.
    for mode, padding in (("CBC", "PKCS5"), ("CTR", None)):
        params = {"block_cipher_mode": getattr(enums.BlockCipherMode, mode),
                  "cryptographic_algorithm": enums.CryptographicAlgorithm.AES}
        if padding:
            params["padding_method"] = getattr(enums.PaddingMethod, padding)
        ciphertext, iv = client.encrypt(MESSAGE, uid=uid,
                                        cryptographic_parameters=params)
        plain = client.decrypt(ciphertext, uid=uid,
                               cryptographic_parameters=params,
                               iv_counter_nonce=iv)
        out[mode] = {"ciphertext": ciphertext.hex(), "iv": (iv or b"").hex(),
                     "plain": plain.hex()}
    out["key"] = bytes(client.get(uid).value).hex()
    return out


def rsa(client):
    pub, priv = client.create_key_pair(
        enums.CryptographicAlgorithm.RSA, 2048,
        public_usage_mask=[U.ENCRYPT, U.VERIFY],
        private_usage_mask=[U.DECRYPT, U.SIGN])
    client.activate(pub)
    client.activate(priv)
    out = {"public_key": bytes(client.get(pub).value).hex()}
    pss = {"padding_method": enums.PaddingMethod.PSS,
           "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
           "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA}
    pkcs1 = {"digital_signature_algorithm":
             enums.DigitalSignatureAlgorithm.SHA256_WITH_RSA_ENCRYPTION,
             "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA}
    for name, params in (("pss", pss), ("pkcs1", pkcs1)):
        sig = client.sign(MESSAGE, uid=priv, cryptographic_parameters=params)
        valid = client.signature_verify(MESSAGE, sig, uid=pub,
                                        cryptographic_parameters=params)
        tampered = client.signature_verify(MESSAGE + b"!", sig, uid=pub,
                                           cryptographic_parameters=params)
        out[name] = {"signature": bytes(sig).hex(),
                     "verify": valid.name, "verify_tampered": tampered.name}
    oaep = {"padding_method": enums.PaddingMethod.OAEP,
            "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
            "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA}
    ciphertext, _ = client.encrypt(MESSAGE, uid=pub,
                                   cryptographic_parameters=oaep)
    plain = client.decrypt(ciphertext, uid=priv, cryptographic_parameters=oaep)
    out["oaep"] = {"ciphertext": ciphertext.hex(), "plain": plain.hex()}
    return out


def ec(client):
    pub, priv = client.create_key_pair(
        enums.CryptographicAlgorithm.EC, 256,
        public_usage_mask=[U.VERIFY], private_usage_mask=[U.SIGN])
    client.activate(pub)
    client.activate(priv)
    params = {"cryptographic_algorithm": enums.CryptographicAlgorithm.EC,
              "hashing_algorithm": enums.HashingAlgorithm.SHA_256}
    sig = client.sign(MESSAGE, uid=priv, cryptographic_parameters=params)
    valid = client.signature_verify(MESSAGE, sig, uid=pub,
                                    cryptographic_parameters=params)
    return {"public_key": bytes(client.get(pub).value).hex(),
            "signature": bytes(sig).hex(), "verify": valid.name}


def mac(client):
    uid = client.create(enums.CryptographicAlgorithm.HMAC_SHA256, 256,
                        cryptographic_usage_mask=[U.MAC_GENERATE])
    client.activate(uid)
    _, mac_data = client.mac(MESSAGE, uid=uid,
                             algorithm=enums.CryptographicAlgorithm.HMAC_SHA256)
    return {"mac": bytes(mac_data).hex(),
            "key": bytes(client.get(uid).value).hex()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pki", required=True,
                        help="directory with ca.crt, client.crt, client.key")
    parser.add_argument("--version", choices=sorted(VERSIONS), default="1.4")
    args = parser.parse_args()

    logging.disable(logging.CRITICAL)
    client = ProxyKmipClient(
        hostname=args.host, port=args.port,
        cert=args.pki + "/client.crt", key=args.pki + "/client.key",
        ca=args.pki + "/ca.crt", kmip_version=VERSIONS[args.version])
    out = {"message": MESSAGE.hex()}
    try:
        with client:
            step(out, "symmetric", lambda: symmetric(client))
            step(out, "rsa", lambda: rsa(client))
            step(out, "ec", lambda: ec(client))
            step(out, "mac", lambda: mac(client))
    except Exception as exc:
        json.dump({"fatal": failure(exc)}, sys.stdout)
        sys.stdout.write("\n")
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
