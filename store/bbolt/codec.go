package bbolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/kmip-adapter/kmip-adapter/store"
)

// Records are encoded in a small binary format rather than JSON: Attributes
// and Material are byte strings (base64 in JSON would grow them by a third)
// and a million records is the target. The first byte is the format
// version; a decoder refuses versions it does not know, so a later format
// can be introduced next to this one and records migrated lazily.
//
// Object record, version 2 (TenantID and ID are the bucket and key, not
// repeated):
//
//	version=2 | objectType uvarint | state uvarint | revision uvarint |
//	createdAt varint (Unix ns) | updatedAt varint (Unix ns) |
//	len(names) uvarint, then each name as bytes | attributes bytes |
//	material bytes | flags uvarint (bit 0: archived, bit 1: MAC) |
//	len(index) uvarint, then each entry as key bytes, value bytes |
//	MAC bytes, only when flag bit 1 is set
//
// (Records written before record MACs have no bit 1 and decode with an
// empty MAC; a build before record MACs refuses a record with bit 1.)
//
// (Version 1, without flags and index, was written by pre-release builds
// with schema 1, which Open refuses.)
//
// Object record, version 3: version 2 with the attributes packed (see
// attrpack.go), a third of their TTLV size. Records are written as
// version 3 whenever the attribute list packs, version 2 otherwise; both
// are read.
//
// Tenant record, version 2 (version 1 lacks settings, which decode as
// zero):
//
//	version=2 | revision uvarint | createdAt varint | updatedAt varint |
//	backend bytes | keyBlob bytes | settings bytes (JSON, see
//	store.EncodeTenantSettings)
//
// where "bytes" is a uvarint length followed by the bytes. Empty and nil
// byte slices are the same on disk and decode as nil.
const (
	objectRecordVersion       = 2
	objectRecordVersionPacked = 3
	tenantRecordVersion       = 2
)

const (
	flagArchived = 1
	flagMAC      = 2
)

var errCorrupt = errors.New("corrupt record")

func encodeObject(o *store.Object) []byte {
	version := byte(objectRecordVersion)
	attrs := o.Attributes
	if p, ok := packAttributes(attrs); ok {
		version, attrs = objectRecordVersionPacked, p
	}
	n := 40 + len(attrs) + len(o.Material) + len(o.MAC)
	for _, name := range o.Names {
		n += len(name) + binary.MaxVarintLen32
	}
	for _, e := range o.Index {
		n += len(e.Key) + len(e.Value) + 2*binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(o.ObjectType))
	b = binary.AppendUvarint(b, uint64(o.State))
	b = binary.AppendUvarint(b, o.Revision)
	b = binary.AppendVarint(b, o.CreatedAt.UnixNano())
	b = binary.AppendVarint(b, o.UpdatedAt.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(o.Names)))
	for _, name := range o.Names {
		b = appendBytes(b, []byte(name))
	}
	b = appendBytes(b, attrs)
	b = appendBytes(b, o.Material)
	var flags uint64
	if o.Archived {
		flags |= flagArchived
	}
	if len(o.MAC) > 0 {
		flags |= flagMAC
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendUvarint(b, uint64(len(o.Index)))
	for _, e := range o.Index {
		b = appendBytes(b, []byte(e.Key))
		b = appendBytes(b, e.Value)
	}
	if len(o.MAC) > 0 {
		b = appendBytes(b, o.MAC)
	}
	return b
}

// decodeObject copies everything it keeps out of b, so b may be memory that
// bbolt owns only for the length of a transaction. The byte fields
// (attributes, material, index values, MAC) are copied into one buffer,
// each capped at its own length so that appending to one never writes
// into the next: one allocation instead of one per field (every Get and
// Locate of a record comes here). Index keys, attribute names, are
// shared strings for the standard names.
func decodeObject(tenantID, id string, b []byte) (*store.Object, error) {
	d := decoder{b: b}
	version := d.byte()
	if version != objectRecordVersion && version != objectRecordVersionPacked && d.err == nil {
		return nil, fmt.Errorf("object record version %d: %w", version, errCorrupt)
	}
	o := &store.Object{TenantID: tenantID, ID: id}
	o.ObjectType = d.uint32()
	o.State = d.uint32()
	o.Revision = d.uvarint()
	o.CreatedAt = d.time()
	o.UpdatedAt = d.time()
	if n := d.uvarint(); n > 0 {
		// Each name takes at least one byte: a count larger than what is
		// left is corruption, not a reason to allocate.
		if n > uint64(len(d.b)) {
			return nil, fmt.Errorf("object record: %w", errCorrupt)
		}
		o.Names = make([]string, n)
		for i := range o.Names {
			o.Names[i] = string(d.bytes())
		}
	}
	attrs := d.bytes() // packed (version 3) or TTLV (version 2)
	attrsSize := len(attrs)
	if version == objectRecordVersionPacked && d.err == nil {
		n, err := unpackedSize(attrs)
		if err != nil {
			return nil, fmt.Errorf("object record: attributes: %w", err)
		}
		attrsSize = n
	}
	material := d.bytes()
	size := attrsSize + len(material)
	flags := d.uvarint()
	if flags&^(flagArchived|flagMAC) != 0 {
		d.fail()
	}
	o.Archived = flags&flagArchived != 0
	if n := d.uvarint(); n > 0 {
		// Each entry takes at least two bytes.
		if n > uint64(len(d.b))/2 {
			return nil, fmt.Errorf("object record: %w", errCorrupt)
		}
		// The values point into b until they are copied below.
		o.Index = make([]store.IndexEntry, n)
		for i := range o.Index {
			o.Index[i].Key = indexKey(d.bytes())
			o.Index[i].Value = d.bytes()
			size += len(o.Index[i].Value)
		}
	}
	var mac []byte
	if flags&flagMAC != 0 {
		mac = d.bytes()
		size += len(mac)
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("object record: %w", err)
	}
	buf := make([]byte, 0, size)
	if version == objectRecordVersionPacked {
		var err error
		if buf, err = appendUnpacked(buf, attrs, attrsSize); err != nil {
			return nil, fmt.Errorf("object record: attributes: %w", err)
		}
		o.Attributes = buf[:len(buf):len(buf)]
	} else {
		buf, o.Attributes = appendField(buf, attrs)
	}
	buf, o.Material = appendField(buf, material)
	for i := range o.Index {
		buf, o.Index[i].Value = appendField(buf, o.Index[i].Value)
	}
	_, o.MAC = appendField(buf, mac)
	return o, nil
}

// appendField appends v to buf and returns buf and v's copy in it, capped
// at its length; nil for an empty v (empty and nil are the same on disk
// and decode as nil).
func appendField(buf, v []byte) ([]byte, []byte) {
	if len(v) == 0 {
		return buf, nil
	}
	start := len(buf)
	buf = append(buf, v...)
	return buf, buf[start:len(buf):len(buf)]
}

// indexKey is an index entry's key as a string, shared for the standard
// attribute names (the map lookup of string(b) does not allocate).
func indexKey(b []byte) string {
	if code, ok := packedCode[string(b)]; ok {
		return packedNames[code-1]
	}
	return string(b)
}

func encodeTenant(t *store.Tenant) []byte {
	b := make([]byte, 0, 40+len(t.Backend)+len(t.KeyBlob))
	b = append(b, tenantRecordVersion)
	b = binary.AppendUvarint(b, t.Revision)
	b = binary.AppendVarint(b, t.CreatedAt.UnixNano())
	b = binary.AppendVarint(b, t.UpdatedAt.UnixNano())
	b = appendBytes(b, []byte(t.Backend))
	b = appendBytes(b, t.KeyBlob)
	b = appendBytes(b, store.EncodeTenantSettings(t.TenantSettings))
	return b
}

func decodeTenant(id string, b []byte) (*store.Tenant, error) {
	d := decoder{b: b}
	v := d.byte()
	if v != tenantRecordVersion && v != 1 && d.err == nil {
		return nil, fmt.Errorf("tenant record version %d: %w", v, errCorrupt)
	}
	t := &store.Tenant{ID: id}
	t.Revision = d.uvarint()
	t.CreatedAt = d.time()
	t.UpdatedAt = d.time()
	t.Backend = string(d.bytes())
	t.KeyBlob = d.bytesCopy()
	if v >= 2 {
		settings, err := store.DecodeTenantSettings(d.bytes())
		if err != nil {
			return nil, fmt.Errorf("tenant record: %w", err)
		}
		t.TenantSettings = settings
	}
	if err := d.finish(); err != nil {
		return nil, fmt.Errorf("tenant record: %w", err)
	}
	return t, nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decoder reads fields in order and remembers the first error, so that the
// decode functions read as a list of fields.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail()
		return 0
	}
	return uint32(v)
}

func (d *decoder) time() time.Time {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return time.Time{}
	}
	d.b = d.b[n:]
	return time.Unix(0, v).UTC()
}

// bytes returns a view into the input; callers copy it (string conversion
// or bytesCopy).
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytesCopy() []byte {
	v := d.bytes()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	return d.err
}
