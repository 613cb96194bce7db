#!/usr/bin/python3
"""Run PyKMIP's high-level client through a key's whole life; print JSON.

Usage: pykmip_clients.py --port PORT --pki DIR --version 1.2 --name NAME

Every call that ProxyKmipClient offers for symmetric keys and secrets is
made, in the order a client uses them: create (with a Name and a usage
mask), locate by that Name, get_attributes, get_attribute_list, check,
activate, locate by Name and State, get, rekey (and get, revoke, destroy
of the new key); at 2.0 set_attribute,
modify_attribute and delete_attribute (by Current Attribute, then by
Attribute Reference as PyKMIP builds it); revoke, destroy, then get and
locate again; register of a symmetric key and of a password, get and
destroy of each; create_key_pair. An encrypt with the destroyed key is
made too: it must fail cleanly.

Each step is recorded under its name, as its result or as
{"error": ..., "reason": ...}, and a failed step does not stop the ones
after it (they record their own failure). The Go test
clients_test.go (TestPyKMIPHighLevel) runs this script.
"""

import argparse
import enum
import json
import logging
import sys

from kmip.core import enums
from kmip.core import objects as cobjects
from kmip.core.factories import attribute_values as attribute_value_factories
from kmip.core.factories import attributes as attribute_factories
from kmip.pie import objects
from kmip.pie.client import ProxyKmipClient

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}

FACTORY = attribute_factories.AttributeFactory()
VALUES = attribute_value_factories.AttributeValueFactory()


def enum_name(value, enum_type=None):
    """Return the name of an enumeration, primitive or integer."""
    value = getattr(value, "value", value)
    if enum_type is not None and isinstance(value, int) \
            and not isinstance(value, enum.Enum):
        try:
            value = enum_type(value)
        except ValueError:
            pass
    return getattr(value, "name", str(value))


def failure(exc):
    """Describe a failed step: its KMIP result reason when there is one."""
    out = {"error": str(exc) or type(exc).__name__, "type": type(exc).__name__}
    reason = getattr(exc, "reason", None)
    if reason is not None:
        out["reason"] = enum_name(reason, enums.ResultReason)
    status = getattr(exc, "status", None)
    if status is not None:
        out["status"] = enum_name(status, enums.ResultStatus)
    return out


def plain(value):
    """Turn an attribute value PyKMIP decoded into JSON."""
    if hasattr(value, "name_value"):  # Name
        return {
            "value": plain(value.name_value),
            "type": enum_name(value.name_type, enums.NameType),
        }
    value = getattr(value, "value", value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def attributes(attrs):
    """Map each attribute name to the list of its values."""
    out = {}
    for a in attrs or []:
        name = plain(a.attribute_name)
        out.setdefault(name, []).append(plain(a.attribute_value))
    return out


def name_attribute(name):
    return FACTORY.create_attribute(enums.AttributeType.NAME, name)


def state_attribute(state):
    return FACTORY.create_attribute(enums.AttributeType.STATE, state)


def contact(value):
    """A Contact Information value, as 2.x New/Current Attribute hold it."""
    return VALUES.create_attribute_value_by_enum(
        enums.Tags.CONTACT_INFORMATION, value)


def key_json(key):
    return {
        "object_type": enum_name(key.object_type, enums.ObjectType),
        "algorithm": enum_name(
            getattr(key, "cryptographic_algorithm", None),
            enums.CryptographicAlgorithm),
        "length": getattr(key, "cryptographic_length", None),
        "material_hex": bytes(key.value).hex(),
    }


class Steps(object):
    """Runs the steps, recording each result or failure under its name."""

    def __init__(self):
        self.out = {}

    def run(self, name, fn):
        try:
            self.out[name] = {"result": fn()}
        except Exception as exc:  # recorded for the Go test to judge
            self.out[name] = failure(exc)
        return self.out[name].get("result")


WANTED = [
    "Name", "State", "Cryptographic Algorithm", "Cryptographic Length",
    "Cryptographic Usage Mask", "Object Type",
]


def lifecycle(client, args):
    s = Steps()
    uid = s.run("create", lambda: client.create(
        enums.CryptographicAlgorithm.AES, 256, name=args.name,
        cryptographic_usage_mask=[
            enums.CryptographicUsageMask.ENCRYPT,
            enums.CryptographicUsageMask.DECRYPT,
        ]))

    def get_attrs(names=None):
        got_uid, attrs = client.get_attributes(uid, names or WANTED)
        return {"uid": got_uid, "attributes": attributes(attrs)}

    s.run("locate", lambda: client.locate(
        attributes=[name_attribute(args.name)]))
    s.run("get_attributes", get_attrs)
    s.run("get_attribute_list", lambda: client.get_attribute_list(uid))
    s.run("check", lambda: client.check(
        uid, cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT]))
    s.run("activate", lambda: client.activate(uid))
    s.run("get_attributes_active", lambda: get_attrs(["State"]))
    s.run("locate_active", lambda: client.locate(attributes=[
        name_attribute(args.name), state_attribute(enums.State.ACTIVE)]))
    s.run("locate_pre_active", lambda: client.locate(attributes=[
        name_attribute(args.name), state_attribute(enums.State.PRE_ACTIVE)]))
    s.run("get", lambda: key_json(client.get(uid)))
    rekeyed = s.run("rekey", lambda: client.rekey(uid=uid))
    s.run("get_rekeyed", lambda: key_json(client.get(rekeyed)))
    s.run("get_attributes_rekeyed", lambda: attributes(
        client.get_attributes(rekeyed, ["State", "Name"])[1]))
    s.run("revoke_rekeyed", lambda: client.revoke(
        enums.RevocationReasonCode.CESSATION_OF_OPERATION, rekeyed))
    s.run("destroy_rekeyed", lambda: client.destroy(rekeyed))
    if client.kmip_version >= enums.KMIPVersion.KMIP_2_0:
        s.run("set_attribute", lambda: client.set_attribute(
            uid, attribute_name="Contact Information",
            attribute_value="pykmip@example.com"))
        s.run("get_attributes_set",
              lambda: get_attrs(["Contact Information"]))
        s.run("modify_attribute", lambda: client.modify_attribute(
            uid, new_attribute=cobjects.NewAttribute(
                attribute=contact("security@example.com")))[0])
        s.run("get_attributes_modified",
              lambda: get_attrs(["Contact Information"]))
        s.run("delete_attribute", lambda: client.delete_attribute(
            uid, current_attribute=cobjects.CurrentAttribute(
                attribute=contact("security@example.com")))[0])
        s.run("get_attributes_deleted",
              lambda: get_attrs(["Contact Information"]))
        # PyKMIP names a standard attribute in an Attribute Reference by
        # an empty Vendor Identification and the attribute's name.
        s.run("set_attribute_again", lambda: client.set_attribute(
            uid, attribute_name="Contact Information",
            attribute_value="pykmip@example.com"))
        s.run("delete_attribute_by_reference",
              lambda: client.delete_attribute(
                  uid, attribute_reference=cobjects.AttributeReference(
                      vendor_identification="",
                      attribute_name="Contact Information"))[0])
        s.run("get_attributes_deleted_by_reference",
              lambda: get_attrs(["Contact Information"]))
    s.run("revoke", lambda: client.revoke(
        enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid,
        revocation_message="retired by pykmip_clients.py"))
    s.run("get_attributes_revoked", lambda: get_attrs(["State"]))
    s.run("destroy", lambda: client.destroy(uid))
    s.run("get_after_destroy", lambda: key_json(client.get(uid)))
    s.run("locate_after_destroy", lambda: client.locate(
        attributes=[name_attribute(args.name)]))

    material = bytes(range(16))
    registered = objects.SymmetricKey(
        enums.CryptographicAlgorithm.AES, 128, material,
        masks=[enums.CryptographicUsageMask.ENCRYPT,
               enums.CryptographicUsageMask.DECRYPT],
        name=args.name + "-registered")
    reg_uid = s.run("register_key", lambda: client.register(registered))
    s.run("get_registered_key", lambda: key_json(client.get(reg_uid)))
    s.run("destroy_registered_key", lambda: client.destroy(reg_uid))

    secret = objects.SecretData(
        b"correct horse battery staple", enums.SecretDataType.PASSWORD,
        name=args.name + "-password")
    secret_uid = s.run("register_secret", lambda: client.register(secret))
    s.run("get_secret", lambda: {
        "object_type": enum_name(
            client.get(secret_uid).object_type, enums.ObjectType),
        "value_hex": bytes(client.get(secret_uid).value).hex(),
    })
    s.run("destroy_secret", lambda: client.destroy(secret_uid))

    s.run("create_key_pair", lambda: client.create_key_pair(
        enums.CryptographicAlgorithm.RSA, 2048))
    s.run("encrypt", lambda: client.encrypt(
        b"sixteen byte msg", uid=reg_uid,
        cryptographic_parameters={
            "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
            "block_cipher_mode": enums.BlockCipherMode.CBC,
            "padding_method": enums.PaddingMethod.PKCS5,
        },
        iv_counter_nonce=bytes(16)))
    return s.out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pki", required=True,
                        help="directory with ca.crt, client.crt, client.key")
    parser.add_argument("--version", choices=sorted(VERSIONS), default="1.2")
    parser.add_argument("--name", required=True,
                        help="the Name of the key (unique to this run)")
    args = parser.parse_args()

    logging.disable(logging.CRITICAL)
    client = ProxyKmipClient(
        hostname=args.host,
        port=args.port,
        cert=args.pki + "/client.crt",
        key=args.pki + "/client.key",
        ca=args.pki + "/ca.crt",
        kmip_version=VERSIONS[args.version],
    )
    try:
        with client:
            out = lifecycle(client, args)
    except Exception as exc:
        json.dump({"fatal": failure(exc)}, sys.stdout)
        sys.stdout.write("\n")
        return 1
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
