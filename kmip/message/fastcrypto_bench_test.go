package message_test

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
)

// BenchmarkCryptoCodec compares the hand-written codec of an AES-GCM
// Encrypt (request payload in, answer out) with the reflection codec it
// replaces:
//
//	go test ./kmip/message -run '^$' -bench CryptoCodec -benchmem
func BenchmarkCryptoCodec(b *testing.B) {
	tag := func(t ttlv.Tag, v ttlv.TTLV) ttlv.TTLV { return attr.Retag(v, t) }
	payload := attr.Structure(kmip14.TagRequestPayload, tag(kmip14.TagUniqueIdentifier, attr.Text("0194f2a4-6d7b-7f8a-9c3e-2b1a0f9e8d7c")),
		attr.Structure(kmip14.TagCryptographicParameters, tag(kmip14.TagBlockCipherMode, attr.Enum(uint32(kmip14.BlockCipherModeGCM))),
			tag(kmip14.TagCryptographicAlgorithm, attr.Enum(uint32(kmip14.CryptographicAlgorithmAES))), tag(kmip14.TagTagLength, attr.Int(16))),
		tag(kmip14.TagData, attr.Bytes(make([]byte, 512))), tag(kmip14.TagIVCounterNonce, attr.Bytes(make([]byte, 12))),
		tag(kmip14.TagAuthenticatedEncryptionAdditionalData, attr.Bytes(make([]byte, 32))))
	answer := &message.Response{Header: message.ResponseHeader{ProtocolVersion: message.V1_4, BatchCount: 1},
		Items: []message.ResponseBatchItem{{Operation: kmip20.OperationEncrypt, ResultStatus: message.StatusSuccess,
			ResponsePayload: &message.EncryptResponse{UniqueIdentifier: "0194f2a4-6d7b-7f8a-9c3e-2b1a0f9e8d7c",
				Data: make([]byte, 512), IVCounterNonce: make([]byte, 12), AuthenticatedEncryptionTag: make([]byte, 16)}}}}
	b.Run("decode/reflection", func(b *testing.B) {
		for b.Loop() {
			var r message.EncryptRequest
			if err := wire.Decode(payload, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/by-hand", func(b *testing.B) {
		for b.Loop() {
			var r message.EncryptRequest
			if err := message.Unmarshal(payload, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/reflection", func(b *testing.B) {
		for b.Loop() {
			if _, err := ttlv.Marshal(answer); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/by-hand", func(b *testing.B) {
		for b.Loop() {
			if _, err := message.Marshal(answer); err != nil {
				b.Fatal(err)
			}
		}
	})
}
