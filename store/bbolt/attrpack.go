package bbolt

import (
	"bytes"
	"encoding/binary"
)

// Packed attribute lists (object record version 3).
//
// The kmip layer hands the store an object's attributes as a TTLV
// Template-Attribute of Attribute structures, each holding an Attribute
// Name, an Attribute Index and an Attribute Value. In TTLV every one of
// them costs 56 bytes or so of headers, padding and repeated name text: a
// new key's list is about 1.7 KB, of which 1 KB is framing. The store
// keeps the list packed and rebuilds the exact bytes when it reads it:
//
//	count uvarint, then per attribute:
//	  name: uvarint code (1.. a standard name of packedNames, 0: bytes follow)
//	  index: varint
//	  value: TTLV type byte, uvarint length, the value without padding
//
// Only a list in exactly that shape (tags, order, zero padding) is packed,
// and only when unpacking gives back the same bytes; anything else is kept
// as it came, in a version 2 record.

// packedNames are the standard attribute names with a code (their
// position + 1). Append only: codes are on disk.
var packedNames = []string{
	"Unique Identifier", "Name", "Object Type", "Cryptographic Algorithm", "Cryptographic Length",
	"Cryptographic Usage Mask", "State", "Initial Date", "Activation Date", "Destroy Date",
	"Last Change Date", "Digest", "Object Group", "Deactivation Date", "Compromise Date",
	"Compromise Occurrence Date", "Revocation Reason", "Link", "Protection Storage Mask",
	"Cryptographic Parameters", "Cryptographic Domain Parameters", "Certificate Type",
	"Certificate Length", "X.509 Certificate Identifier", "X.509 Certificate Subject",
	"X.509 Certificate Issuer", "Certificate Identifier", "Certificate Subject", "Certificate Issuer",
	"Digital Signature Algorithm", "Operation Policy Name", "Lease Time", "Usage Limits",
	"Process Start Date", "Protect Stop Date", "Archive Date", "Fresh",
	"Application Specific Information", "Contact Information", "Alternative Name",
	"Key Value Present", "Key Value Location", "Original Creation Date", "Random Number Generator",
	"PKCS#12 Friendly Name", "Description", "Comment", "Sensitive", "Always Sensitive",
	"Extractable", "Never Extractable", "Short Unique Identifier", "Key Format Type",
	"Object Group Member", "Quantum Safe",
}

// packedNameBytes are packedNames as bytes, for unpackAttributes (read
// only).
var packedNameBytes = func() [][]byte {
	b := make([][]byte, len(packedNames))
	for i, n := range packedNames {
		b[i] = []byte(n)
	}
	return b
}()

var packedCode = func() map[string]uint64 {
	m := make(map[string]uint64, len(packedNames))
	for i, n := range packedNames {
		m[n] = uint64(i + 1)
	}
	return m
}()

// TTLV tags and types of the list's shape.
var (
	tagTemplateAttribute = [3]byte{0x42, 0x00, 0x91}
	tagAttribute         = [3]byte{0x42, 0x00, 0x08}
	tagAttributeName     = [3]byte{0x42, 0x00, 0x0A}
	tagAttributeIndex    = [3]byte{0x42, 0x00, 0x09}
	tagAttributeValue    = [3]byte{0x42, 0x00, 0x0B}
)

const (
	ttlvStructure  = 0x01
	ttlvInteger    = 0x02
	ttlvTextString = 0x07
	ttlvHeaderSize = 8
)

// padded is the encoded length of a value of type typ and length n, or -1
// for an unknown type.
func padded(typ byte, n int) int {
	switch typ {
	case 0x01, 0x04: // Structure, Big Integer: n itself (a multiple of 8)
		if n%8 != 0 {
			return -1
		}
		return n
	case 0x02, 0x05, 0x0A: // Integer, Enumeration, Interval
		if n != 4 {
			return -1
		}
		return 8
	case 0x03, 0x06, 0x09, 0x0B: // Long Integer, Boolean, Date-Time, Date-Time Extended
		if n != 8 {
			return -1
		}
		return 8
	case 0x07, 0x08: // Text String, Byte String
		return (n + 7) &^ 7
	}
	return -1
}

// item splits one TTLV item of tag off b: its type and value (unpadded),
// and whether its padding is zero and everything is in bounds.
func item(b []byte, tag [3]byte) (typ byte, value, rest []byte, ok bool) {
	if len(b) < ttlvHeaderSize || [3]byte(b[:3]) != tag {
		return 0, nil, nil, false
	}
	typ = b[3]
	n := int(binary.BigEndian.Uint32(b[4:8]))
	full := padded(typ, n)
	if full < 0 || len(b)-ttlvHeaderSize < full {
		return 0, nil, nil, false
	}
	body := b[ttlvHeaderSize : ttlvHeaderSize+full]
	for _, p := range body[n:] {
		if p != 0 {
			return 0, nil, nil, false
		}
	}
	return typ, body[:n], b[ttlvHeaderSize+full:], true
}

// packAttributes packs a stored attribute list, or reports that it is not
// in the shape the packed form keeps.
func packAttributes(list []byte) ([]byte, bool) {
	typ, body, rest, ok := item(list, tagTemplateAttribute)
	if !ok || typ != ttlvStructure || len(rest) != 0 {
		return nil, false
	}
	out := make([]byte, 0, len(list)/2+16)
	// name, index (4 bytes), value item; on the stack for the lists keys
	// have (about 20 attributes)
	var stack [40][3][]byte
	attrs := stack[:0]
	count := 0
	for b := body; len(b) > 0; count++ {
		t, a, r, ok := item(b, tagAttribute)
		if !ok || t != ttlvStructure {
			return nil, false
		}
		b = r
		nt, name, a, ok := item(a, tagAttributeName)
		if !ok || nt != ttlvTextString {
			return nil, false
		}
		it, index, a, ok := item(a, tagAttributeIndex)
		if !ok || it != ttlvInteger {
			return nil, false
		}
		if len(a) < ttlvHeaderSize {
			return nil, false
		}
		vt, _, a2, ok := item(a, tagAttributeValue)
		if !ok || len(a2) != 0 {
			return nil, false
		}
		_ = vt
		attrs = append(attrs, [3][]byte{name, index, a})
	}
	out = binary.AppendUvarint(out, uint64(count))
	for _, a := range attrs {
		if code, ok := packedCode[string(a[0])]; ok {
			out = binary.AppendUvarint(out, code)
		} else {
			out = binary.AppendUvarint(out, 0)
			out = appendBytes(out, a[0])
		}
		out = binary.AppendVarint(out, int64(int32(binary.BigEndian.Uint32(a[1]))))
		value := a[2]
		n := int(binary.BigEndian.Uint32(value[4:8]))
		out = append(out, value[3])
		out = binary.AppendUvarint(out, uint64(n))
		out = append(out, value[ttlvHeaderSize:ttlvHeaderSize+n]...)
	}
	// Never keep what would not come back byte for byte.
	if back, err := unpackAttributes(out); err != nil || !bytes.Equal(back, list) {
		return nil, false
	}
	return out, true
}

// unpackAttributes rebuilds the TTLV list packAttributes packed.
func unpackAttributes(p []byte) ([]byte, error) {
	size, err := unpackedSize(p)
	if err != nil {
		return nil, err
	}
	return appendUnpacked(make([]byte, 0, size), p, size)
}

// unpackedSize reads a packed list through and returns the exact size
// of the TTLV list it rebuilds to, so that the rebuilt list's buffer is
// allocated once (decodeObject allocates it with the record's other
// byte fields: every Get and Locate of a record comes here). Reading the
// list twice rather than keeping the attributes in a table between the
// passes: a table of slices costs a GC write barrier per field while
// the collector runs.
func unpackedSize(p []byte) (int, error) {
	d := decoder{b: p}
	count := d.uvarint()
	// Each attribute takes at least four bytes.
	if count > uint64(len(d.b))/4 {
		return 0, errCorrupt
	}
	size := ttlvHeaderSize
	for range count {
		name, _, _, _, full, err := d.packedAttribute()
		if err != nil {
			return 0, err
		}
		// Attribute, Attribute Name, Attribute Index (8), Attribute Value.
		size += 4*ttlvHeaderSize + padded(ttlvTextString, len(name)) + 8 + full
	}
	if err := d.finish(); err != nil {
		return 0, err
	}
	return size, nil
}

// appendUnpacked appends the TTLV list of p, which unpackedSize read
// through as size bytes, to out.
func appendUnpacked(out, p []byte, size int) ([]byte, error) {
	d := decoder{b: p}
	count := d.uvarint()
	start := len(out)
	out = appendHeader(out, tagTemplateAttribute, ttlvStructure, size-ttlvHeaderSize)
	for range count {
		name, index, typ, value, full, err := d.packedAttribute()
		if err != nil { // unpackedSize read it without error
			return nil, err
		}
		at := len(out)
		out = appendHeader(out, tagAttribute, ttlvStructure, 0)
		out = appendHeader(out, tagAttributeName, ttlvTextString, len(name))
		out = appendPadded(out, name, padded(ttlvTextString, len(name)))
		out = appendHeader(out, tagAttributeIndex, ttlvInteger, 4)
		out = binary.BigEndian.AppendUint32(out, uint32(int32(index)))
		out = append(out, 0, 0, 0, 0)
		out = appendHeader(out, tagAttributeValue, typ, len(value))
		out = appendPadded(out, value, full)
		binary.BigEndian.PutUint32(out[at+4:at+8], uint32(len(out)-at-ttlvHeaderSize))
	}
	if len(out)-start != size {
		return nil, errCorrupt
	}
	return out, nil
}

// packedAttribute reads one attribute of a packed list: its name, index,
// value type and value, and the value's padded length. An attribute of
// a standard name whose index and value length take one byte each (the
// attributes of keys: every record read unpacks its list twice) is read
// in place; any other by packedAttributeFields.
func (d *decoder) packedAttribute() (name []byte, index int64, typ byte, value []byte, full int, err error) {
	b := d.b
	if len(b) >= 4 && b[0] < 0x80 && b[0]-1 < byte(len(packedNames)) && b[1] < 0x80 && b[3] < 0x80 && int(b[3]) <= len(b)-4 {
		name = packedNameBytes[b[0]-1]
		index = int64(b[1] >> 1) // a one-byte zigzag varint
		if b[1]&1 != 0 {
			index = ^index
		}
		typ = b[2]
		value = b[4 : 4+int(b[3])]
		d.b = b[4+len(value):]
		if full = padded(typ, len(value)); full < 0 {
			return nil, 0, 0, nil, 0, errCorrupt
		}
		return name, index, typ, value, full, nil
	}
	return d.packedAttributeFields()
}

// packedAttributeFields is packedAttribute field by field, for any
// attribute.
func (d *decoder) packedAttributeFields() (name []byte, index int64, typ byte, value []byte, full int, err error) {
	switch code := d.uvarint(); {
	case code == 0:
		name = d.bytes()
	case code <= uint64(len(packedNames)):
		name = packedNameBytes[code-1]
	default:
		d.fail()
	}
	index = d.varintValue()
	typ = d.byte()
	value = d.bytes()
	if d.err != nil {
		return nil, 0, 0, nil, 0, d.err
	}
	full = padded(typ, len(value))
	if full < 0 || index != int64(int32(index)) {
		return nil, 0, 0, nil, 0, errCorrupt
	}
	return name, index, typ, value, full, nil
}

func appendHeader(b []byte, tag [3]byte, typ byte, n int) []byte {
	b = append(b, tag[0], tag[1], tag[2], typ)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

func appendPadded(b, v []byte, full int) []byte {
	b = append(b, v...)
	for range full - len(v) {
		b = append(b, 0)
	}
	return b
}

func (d *decoder) varintValue() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}
