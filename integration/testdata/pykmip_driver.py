#!/usr/bin/python3
"""Drive the kmip-adapter with Debian's PyKMIP client and print JSON.

Usage: pykmip_driver.py --port PORT --pki DIR --version 1.4 SCENARIO

Scenarios:
  lifecycle  discover versions, query, create AES-256, get, destroy, get again
  create     create N AES keys (--count, --length) and get them back

The result is one JSON object on stdout; errors of individual steps are
recorded in it (as {"error": ..., "reason": ...}) so the caller asserts on
them. The Go tests in this directory run this script.
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


def enum_name(value, enum=None):
    """Return the name of a PyKMIP enumeration, primitive or integer.

    PyKMIP hands back enumerations, primitives wrapping them, or plain
    integers depending on the call; enum converts the integers.
    """
    value = getattr(value, "value", value)
    if enum is not None and isinstance(value, int):
        try:
            value = enum(value)
        except ValueError:
            pass
    return getattr(value, "name", str(value))


def text(value):
    """Return the text of a PyKMIP TextString primitive, or of a str."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def failure(exc):
    """Describe a failed step: its KMIP result reason when there is one."""
    out = {"error": str(exc), "type": type(exc).__name__}
    reason = getattr(exc, "reason", None)
    if reason is not None:
        out["reason"] = enum_name(reason, enums.ResultReason)
    status = getattr(exc, "status", None)
    if status is not None:
        out["status"] = enum_name(status, enums.ResultStatus)
    return out


def result_failure(result):
    """Describe a failed KMIPProxy result (which raises nothing)."""
    return {
        "error": text(result.result_message),
        "status": enum_name(result.result_status, enums.ResultStatus),
        "reason": enum_name(result.result_reason, enums.ResultReason),
    }


def discover(proxy):
    result = proxy.discover_versions()
    if enum_name(result.result_status, enums.ResultStatus) != "SUCCESS":
        return result_failure(result)
    versions = [
        "%d.%d" % (v.major, v.minor) for v in (result.protocol_versions or [])
    ]
    return {"versions": versions}


def query(proxy):
    result = proxy.query(query_functions=[
        enums.QueryFunction.QUERY_OPERATIONS,
        enums.QueryFunction.QUERY_OBJECTS,
        enums.QueryFunction.QUERY_SERVER_INFORMATION,
    ])
    if enum_name(result.result_status, enums.ResultStatus) != "SUCCESS":
        return result_failure(result)
    return {
        "operations": [enum_name(o, enums.Operation) for o in result.operations],
        "object_types": [
            enum_name(o, enums.ObjectType) for o in result.object_types
        ],
        "vendor": text(result.vendor_identification),
    }


def get_key(client, uid):
    key = client.get(uid)
    return {
        "uid": uid,
        "object_type": enum_name(key.object_type, enums.ObjectType),
        "algorithm": enum_name(
            key.cryptographic_algorithm, enums.CryptographicAlgorithm),
        "length": key.cryptographic_length,
        "material_hex": bytes(key.value).hex(),
    }


def lifecycle(client, args):
    out = {"discover": discover(client.proxy), "query": query(client.proxy)}
    uid = client.create(enums.CryptographicAlgorithm.AES, args.length)
    out["create"] = {"uid": uid}
    out["get"] = get_key(client, uid)
    client.destroy(uid)
    out["destroy"] = {"uid": uid}
    try:
        get_key(client, uid)
        out["get_after_destroy"] = {"error": None}
    except Exception as exc:  # the failure is the expected outcome
        out["get_after_destroy"] = failure(exc)
    return out


def create(client, args):
    keys = []
    for _ in range(args.count):
        uid = client.create(enums.CryptographicAlgorithm.AES, args.length)
        keys.append(get_key(client, uid))
    return {"keys": keys}


SCENARIOS = {"lifecycle": lifecycle, "create": create}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pki", required=True,
                        help="directory with ca.crt, client.crt, client.key")
    parser.add_argument("--version", choices=sorted(VERSIONS), default="1.4")
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--username", default=None,
                        help="KMIP Credential username (with --password)")
    parser.add_argument("--password", default=None)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    args = parser.parse_args()

    logging.disable(logging.CRITICAL)
    client = ProxyKmipClient(
        hostname=args.host,
        port=args.port,
        cert=args.pki + "/client.crt",
        key=args.pki + "/client.key",
        ca=args.pki + "/ca.crt",
        kmip_version=VERSIONS[args.version],
        username=args.username,
        password=args.password,
    )
    try:
        with client:
            out = SCENARIOS[args.scenario](client, args)
    except Exception as exc:
        out = {"fatal": failure(exc)}
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
