// Package attr is the version-independent model of KMIP attributes (KMIP 1.4
// section 3, 2.1 section 4).
//
// An attribute is a name (the KMIP 1.x Attribute Name: "Cryptographic
// Algorithm", "x-Vendor"), an index, and its value as raw TTLV tagged
// Attribute Value. Keeping the raw TTLV keeps custom attributes with their
// exact type (text, integer, byte string, structure...), and makes the 1.x
// and 2.x wire forms a re-tagging of the same bytes. The message package
// converts to and from the wire; the store keeps List.Marshal's bytes.
package attr
