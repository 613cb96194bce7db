// Package message is the KMIP message model: protocol versions, request and
// response messages, batch items, result reasons, attributes and the
// operation payloads, decoded from and encoded to TTLV with gemalto/kmip-go's
// ttlv codec.
//
// There is one Go type per payload, not one per protocol version. What
// differs between versions (which operations, object types and result
// reasons exist, TemplateAttribute in 1.x against Attributes in 2.x) is
// described once, in versions.go and attribute.go, and consulted by the
// encoders. This package never touches the store or a backend.
package message
