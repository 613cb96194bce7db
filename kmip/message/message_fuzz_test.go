package message_test

import (
	"errors"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/internal/fuzzseed"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// The fuzz targets of the message layer: the request header and batch
// items (FuzzDecodeRequest) and every operation's payload with the
// attribute forms inside it (FuzzPayload). Only what wire.Check accepts
// gets here, as in the server. Seeds: the OASIS vectors' requests and
// payloads, and testdata/fuzz.

// FuzzDecodeRequest: decoding a checked message never panics; a decoded
// request's version is the one PeekVersion finds.
func FuzzDecodeRequest(f *testing.F) {
	c := fuzzseed.Load(f)
	for _, m := range fuzzseed.Pick(c.Requests) {
		f.Add(m)
	}
	for _, m := range fuzzseed.Pick(c.Batches) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if wire.Check(data) != nil {
			return
		}
		req, err := message.DecodeRequest(data)
		v, ok := message.PeekVersion(data)
		if err != nil {
			return
		}
		if ok != (req.Header.ProtocolVersion != message.Version{}) || ok && v != req.Header.ProtocolVersion {
			t.Fatalf("PeekVersion %v (%v), header %v", v, ok, req.Header.ProtocolVersion)
		}
		for _, it := range req.Items {
			_ = it.Operation.String()
			if len(it.RequestPayload) > 0 && it.RequestPayload.Valid() != nil {
				t.Fatal("a decoded payload is not valid TTLV")
			}
		}
	})
}

// payloadTypes are every request payload the operations decode.
func payloadTypes() []any {
	return []any{
		&message.CreateRequest{}, &message.CreateKeyPairRequest{}, &message.RegisterRequest{},
		&message.ReKeyRequest{}, &message.GetRequest{}, &message.GetAttributesRequest{},
		&message.GetAttributeListRequest{}, &message.AddAttributeRequest{}, &message.ModifyAttributeRequest{},
		&message.DeleteAttributeRequest{}, &message.SetAttributeRequest{}, &message.LocateRequest{},
		&message.ActivateRequest{}, &message.RevokeRequest{}, &message.DestroyRequest{},
		&message.ArchiveRequest{}, &message.CheckRequest{}, &message.InteropRequest{},
		&message.LogRequest{}, &message.QueryRequest{}, &message.DiscoverVersionsRequest{},
		// The cryptographic services and key wrapping (payload_crypto.go,
		// payload_wrap.go, payload_export.go).
		&message.EncryptRequest{}, &message.DecryptRequest{}, &message.SignRequest{},
		&message.SignatureVerifyRequest{}, &message.MACRequest{}, &message.MACVerifyRequest{},
		&message.HashRequest{}, &message.RNGRetrieveRequest{}, &message.RNGSeedRequest{},
		&message.ImportRequest{}, &message.KeyWrappingSpecification{}, &message.KeyWrappingData{},
	}
}

// FuzzPayload decodes a checked payload as every operation's request and
// runs what the operations run on it: attribute lists in both forms,
// single attributes, attribute references, the object of a Register, its
// Key Block's material, Locate's filters. Nothing may panic, and every
// attribute list that decodes encodes again, for any version, as
// well-formed TTLV that decodes to the same names.
func FuzzPayload(f *testing.F) {
	c := fuzzseed.Load(f)
	for _, p := range fuzzseed.Pick(c.Payloads) {
		f.Add(p.Major, p.Minor, p.TTLV)
	}
	for _, a := range fuzzseed.Pick(c.Attributes) {
		f.Add(int32(2), int32(1), a)
	}
	f.Fuzz(func(t *testing.T, major, minor int32, data []byte) {
		if wire.Check(data) != nil {
			return
		}
		v := message.Version{Major: major % 4, Minor: minor % 6}
		payload := ttlv.TTLV(data)
		for _, p := range payloadTypes() {
			if message.Unmarshal(payload, p) != nil {
				continue
			}
			exercise(t, v, p)
		}
		lists(t, v, payload)
		_, _ = message.DecodeAttribute(payload)
		_, _ = message.DecodeAttributeIn(payload)
		_, _ = message.DecodeAttributeReference(payload)
	})
}

// exercise runs the methods and helpers the operations call on a decoded
// payload.
func exercise(t *testing.T, v message.Version, p any) {
	switch p := p.(type) {
	case *message.CreateRequest:
		lists(t, v, p.TemplateAttribute, p.Attributes)
	case *message.CreateKeyPairRequest:
		lists(t, v, p.CommonTemplateAttribute, p.PrivateKeyTemplateAttribute, p.PublicKeyTemplateAttribute,
			p.CommonAttributes, p.PrivateKeyAttributes, p.PublicKeyAttributes)
	case *message.ReKeyRequest:
		lists(t, v, p.TemplateAttribute, p.Attributes)
		_, _ = p.UniqueIdentifier.Resolve("")
	case *message.RegisterRequest:
		lists(t, v, p.TemplateAttribute, p.Attributes)
		obj, err := p.Object()
		if err != nil {
			return
		}
		var key struct{ KeyBlock message.KeyBlock }
		if message.Unmarshal(obj, &key) == nil {
			_, _ = key.KeyBlock.Material()
		}
		var secret message.SecretData
		if message.Unmarshal(obj, &secret) == nil {
			_, _ = secret.KeyBlock.Material()
		}
		_ = message.Unmarshal(obj, &message.Certificate{})
		_ = message.Unmarshal(obj, &message.OpaqueObject{})
		lists(t, v, obj)
	case *message.LocateRequest:
		lists(t, v, p.Filters())
	case *message.GetAttributesRequest:
		for _, ref := range p.AttributeReference {
			_, _ = message.DecodeAttributeReference(ref)
		}
		_, _ = p.UniqueIdentifier.Resolve("placeholder")
	case *message.AddAttributeRequest:
		_, _ = message.DecodeAttribute(p.Attribute)
		_, _ = message.DecodeAttributeIn(p.NewAttribute)
	case *message.ModifyAttributeRequest:
		_, _ = message.DecodeAttribute(p.Attribute)
		_, _ = message.DecodeAttributeIn(p.NewAttribute)
		_, _ = message.DecodeAttributeIn(p.CurrentAttribute)
	case *message.DeleteAttributeRequest:
		_, _ = message.DecodeAttributeIn(p.CurrentAttribute)
		_, _ = message.DecodeAttributeReference(p.AttributeReference)
	case *message.SetAttributeRequest:
		_, _ = message.DecodeAttributeIn(p.NewAttribute)
	case *message.GetRequest:
		_, _ = p.UniqueIdentifier.Resolve("")
	}
}

// lists decodes attribute lists; each one that decodes must encode for v
// (and for 1.4 and 2.1) into well-formed TTLV holding the attributes that
// version has.
func lists(t *testing.T, v message.Version, raws ...ttlv.TTLV) {
	for _, raw := range raws {
		list, err := message.DecodeAttributes(raw)
		if err != nil {
			continue
		}
		for _, ev := range []message.Version{v, message.V1_4, message.V2_1} {
			container := kmip14.TagTemplateAttribute
			if ev.AtLeast(message.V2_0) {
				container = kmip20.TagAttributes
			}
			out, err := message.EncodeAttributes(ev, container, list)
			if err != nil {
				continue
			}
			if err := wire.Check(out); err != nil {
				t.Fatalf("EncodeAttributes(%s) wrote malformed TTLV: %v", ev, err)
			}
			back, err := message.DecodeAttributes(out)
			if err != nil {
				t.Fatalf("EncodeAttributes(%s) wrote what DecodeAttributes refuses: %v", ev, err)
			}
			for _, a := range back {
				if _, ok := attr.Lookup(a.Name); !ok {
					t.Fatalf("encoded attribute %q is unknown", a.Name)
				}
			}
		}
	}
}

// TestDecodeAttributesRefusesNonStructures is the regression test of a
// FuzzPayload finding: a 2.x Attributes (or any attribute list) sent as
// another type than a structure made DecodeAttributes slice past its end
// (a panic, recovered as General Failure). It is Invalid Field now.
func TestDecodeAttributesRefusesNonStructures(t *testing.T) {
	// A Byte String whose bytes look like an item claiming 4 GiB.
	raw := append([]byte{0x42, 0x01, 0x25, 0x08, 0, 0, 0, 16}, 0x42, 0, 0x08, 0x01, 0xff, 0xff, 0xff, 0xff, 0x42, 0, 0x08, 0x01, 0, 0, 0, 0)
	_, err := message.DecodeAttributes(raw)
	var e *message.Error
	if !errors.As(err, &e) || e.Reason != kmip20.ResultReasonInvalidField {
		t.Fatalf("DecodeAttributes of a Byte String: %v, want Invalid Field", err)
	}
}
