package integration

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resultReasonObjectDestroyed is the KMIP 2.0 Result Reason Object
// Destroyed (KMIP 2.0 section 11.46), which ovh/kmip-go v0.9.2 lacks.
const resultReasonObjectDestroyed kmip.ResultReason = 0x36

// resultReasonObjectNotFound is the KMIP 2.0 Result Reason Object Not
// Found, which ovh/kmip-go v0.9.2 also lacks.
const resultReasonObjectNotFound kmip.ResultReason = 0x37

// tagAttributes is the KMIP 2.0 Attributes structure (0x420125), which
// ovh/kmip-go v0.9.2 has no constant for.
const tagAttributes = 0x420125

// createRequestV2 is a KMIP 2.x Create request payload (KMIP 2.0 section
// 6.1.8: Object Type, then Attributes). ovh/kmip-go v0.9.2 encodes Create
// with the 1.x Template-Attribute at every version, a structure that 2.x
// no longer has; the 2.x tests build the payload themselves, still with the
// client's own TTLV encoder.
type createRequestV2 struct {
	ObjectType kmip.ObjectType
	Algorithm  kmip.CryptographicAlgorithm
	Length     int32
	UsageMask  kmip.CryptographicUsageMask
}

func (*createRequestV2) Operation() kmip.Operation { return kmip.OperationCreate }

func (p *createRequestV2) TagEncodeTTLV(e *ttlv.Encoder, tag int) {
	e.Struct(tag, func(e *ttlv.Encoder) {
		e.Any(p.ObjectType)
		e.Struct(tagAttributes, func(e *ttlv.Encoder) {
			e.Any(p.Algorithm)
			e.Integer(kmip.TagCryptographicLength, p.Length)
			e.Any(p.UsageMask)
		})
	})
}

// ovhDial connects ovh/kmip-go to s with the development client
// certificate, speaking version v without negotiating.
func ovhDial(t testing.TB, s *server, v kmip.ProtocolVersion, opts ...kmipclient.Option) *kmipclient.Client {
	t.Helper()
	opts = append([]kmipclient.Option{
		kmipclient.WithClientCertFiles(s.pki("client.crt"), s.pki("client.key")),
		kmipclient.WithRootCAFile(s.pki("ca.crt")),
		kmipclient.EnforceVersion(v),
		kmipclient.WithMiddlewares(kmipclient.TimeoutMiddleware(20 * time.Second)),
	}, opts...)
	c, err := kmipclient.Dial(s.addr, opts...)
	require.NoError(t, err, "ovh/kmip-go Dial %s at KMIP %s", s.addr, v)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// ovhCreateAES creates an AES key of bits through c, in the form of
// Create that c's protocol version has.
func ovhCreateAES(t testing.TB, c *kmipclient.Client, bits int) string {
	t.Helper()
	usage := kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt
	var req kmip.OperationPayload
	if c.Version().ProtocolVersionMajor >= 2 {
		req = &createRequestV2{
			ObjectType: kmip.ObjectTypeSymmetricKey,
			Algorithm:  kmip.CryptographicAlgorithmAES,
			Length:     int32(bits),
			UsageMask:  usage,
		}
	} else {
		var err error
		req, err = c.Create().AES(bits, usage).Build()
		require.NoError(t, err)
	}
	resp, err := c.Request(context.Background(), req)
	require.NoError(t, err, "Create AES-%d at KMIP %s", bits, c.Version())
	created, ok := resp.(*payloads.CreateResponsePayload)
	require.True(t, ok, "Create answered with %T", resp)
	assert.Equal(t, kmip.ObjectTypeSymmetricKey, created.ObjectType)
	require.NotEmpty(t, created.UniqueIdentifier)
	return created.UniqueIdentifier
}

// ovhGetKey gets the symmetric key id in format and returns its key block
// and material.
func ovhGetKey(t testing.TB, c *kmipclient.Client, id string, format kmip.KeyFormatType) (kmip.KeyBlock, []byte) {
	t.Helper()
	resp, err := c.Get(id).WithKeyFormat(format).Exec()
	require.NoError(t, err, "Get %s as %s", id, ttlv.EnumStr(format))
	assert.Equal(t, id, resp.UniqueIdentifier)
	require.Equal(t, kmip.ObjectTypeSymmetricKey, resp.ObjectType)
	key, ok := resp.Object.(*kmip.SymmetricKey)
	require.True(t, ok, "Get answered with a %T", resp.Object)
	assert.Equal(t, format, key.KeyBlock.KeyFormatType)
	material, err := key.KeyMaterial()
	require.NoError(t, err)
	recordKey(id, material)
	return key.KeyBlock, material
}

// ovhResult sends one payload and returns its batch item, failed or not.
func ovhResult(t testing.TB, c *kmipclient.Client, req kmip.OperationPayload) kmip.ResponseBatchItem {
	t.Helper()
	res, err := c.Batch(context.Background(), req)
	require.NoError(t, err)
	require.Len(t, res, 1)
	return res[0]
}

// TestOVHClient checks the server with ovh/kmip-go, a second client with
// its own codec: discover versions, query, create, get, destroy, failures
// and batch item identifiers, at 1.4, 2.0 and 2.1.
func TestOVHClient(t *testing.T) {
	s := mainServer(t)

	tests := []struct {
		version kmip.ProtocolVersion
		// destroyedReason is the Result Reason of a Get after Destroy,
		// notFound that of a Get of an identifier that never existed.
		destroyedReason, notFound kmip.ResultReason
	}{
		{kmip.V1_4, kmip.ResultReasonItemNotFound, kmip.ResultReasonItemNotFound},
		{kmip.V2_0, resultReasonObjectDestroyed, resultReasonObjectNotFound},
		{kmip.V2_1, resultReasonObjectDestroyed, resultReasonObjectNotFound},
	}
	for _, tt := range tests {
		t.Run("KMIP_"+tt.version.String(), func(t *testing.T) {
			t.Parallel()
			c := ovhDial(t, s, tt.version)

			t.Run("DiscoverVersions", func(t *testing.T) {
				resp, err := c.Request(context.Background(), &payloads.DiscoverVersionsRequestPayload{})
				require.NoError(t, err)
				all := resp.(*payloads.DiscoverVersionsResponsePayload).ProtocolVersion
				assert.Equal(t, []kmip.ProtocolVersion{kmip.V2_1, kmip.V2_0, kmip.V1_4, kmip.V1_3, kmip.V1_2, kmip.V1_1, kmip.V1_0}, all,
					"an empty client list asks for every supported version, newest first")

				// KMIP 1.4 section 4.26: the answer is the client's versions
				// that the server supports, in the server's order.
				resp, err = c.Request(context.Background(), &payloads.DiscoverVersionsRequestPayload{
					ProtocolVersion: []kmip.ProtocolVersion{{ProtocolVersionMajor: 9, ProtocolVersionMinor: 9}, kmip.V1_2, tt.version},
				})
				require.NoError(t, err)
				assert.ElementsMatch(t, []kmip.ProtocolVersion{tt.version, kmip.V1_2},
					resp.(*payloads.DiscoverVersionsResponsePayload).ProtocolVersion)
			})

			t.Run("Query", func(t *testing.T) {
				resp, err := c.Query().Operations().Objects().ServerInformation().Exec()
				require.NoError(t, err)
				assert.Subset(t, resp.Operations, []kmip.Operation{
					kmip.OperationCreate, kmip.OperationGet, kmip.OperationDestroy,
					kmip.OperationQuery, kmip.OperationDiscoverVersions,
				})
				assert.Contains(t, resp.ObjectType, kmip.ObjectTypeSymmetricKey)
				assert.Equal(t, "kmip-adapter", resp.VendorIdentification)
			})

			for _, bits := range []int{128, 192, 256} {
				t.Run("AES_"+strconv.Itoa(bits), func(t *testing.T) {
					id := ovhCreateAES(t, c, bits)

					block, raw := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
					assert.Len(t, raw, bits/8)
					assert.Equal(t, kmip.CryptographicAlgorithmAES, block.CryptographicAlgorithm)
					assert.Equal(t, int32(bits), block.CryptographicLength)
					assert.Empty(t, block.GetAttributes(), "no attributes inside the Key Value")

					_, transparent := ovhGetKey(t, c, id, kmip.KeyFormatTypeTransparentSymmetricKey)
					assert.Equal(t, raw, transparent, "the same key in both formats")

					destroyed, err := c.Destroy(id).Exec()
					require.NoError(t, err)
					assert.Equal(t, id, destroyed.UniqueIdentifier)

					bi := ovhResult(t, c, &payloads.GetRequestPayload{UniqueIdentifier: id})
					assert.Equal(t, kmip.ResultStatusOperationFailed, bi.ResultStatus)
					assert.Equal(t, tt.destroyedReason, bi.ResultReason, "Get after Destroy: %s", bi.ResultMessage)
				})
			}

			t.Run("GetUnknown", func(t *testing.T) {
				bi := ovhResult(t, c, &payloads.GetRequestPayload{UniqueIdentifier: "no-such-object"})
				assert.Equal(t, kmip.OperationGet, bi.Operation)
				assert.Equal(t, kmip.ResultStatusOperationFailed, bi.ResultStatus)
				assert.Equal(t, tt.notFound, bi.ResultReason, bi.ResultMessage)
			})

			t.Run("BatchItemIDs", func(t *testing.T) {
				// ovh/kmip-go numbers the items of a batch 0, 1, ...: each
				// answer must carry its request's Unique Batch Item ID.
				res, err := c.BatchOpt(context.Background(), []kmip.OperationPayload{
					&payloads.GetRequestPayload{UniqueIdentifier: "no-such-object"},
					&payloads.QueryRequestPayload{QueryFunction: []kmip.QueryFunction{kmip.QueryFunctionObjects}},
				}, kmipclient.OnBatchErr(kmip.BatchErrorContinuationOptionContinue))
				require.NoError(t, err)
				require.Len(t, res, 2)
				assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 0}, res[0].UniqueBatchItemID)
				assert.Equal(t, kmip.OperationGet, res[0].Operation)
				assert.Equal(t, tt.notFound, res[0].ResultReason)
				assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, 1}, res[1].UniqueBatchItemID)
				assert.Equal(t, kmip.OperationQuery, res[1].Operation)
				assert.Equal(t, kmip.ResultStatusSuccess, res[1].ResultStatus)
			})
		})
	}
}

// TestOVHNegotiation lets ovh/kmip-go negotiate the version with
// DiscoverVersions, as it does by default: it must settle on the newest
// version both sides know.
func TestOVHNegotiation(t *testing.T) {
	s := mainServer(t)
	tests := []struct {
		name   string
		client []kmip.ProtocolVersion
		want   kmip.ProtocolVersion
	}{
		{"default 1.x list", nil, kmip.V1_4},
		{"up to 2.1", []kmip.ProtocolVersion{kmip.V2_1, kmip.V2_0, kmip.V1_4}, kmip.V2_1},
		{"1.2 and 1.0", []kmip.ProtocolVersion{kmip.V1_2, kmip.V1_0}, kmip.V1_2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []kmipclient.Option{
				kmipclient.WithClientCertFiles(s.pki("client.crt"), s.pki("client.key")),
				kmipclient.WithRootCAFile(s.pki("ca.crt")),
			}
			if tt.client != nil {
				opts = append(opts, kmipclient.WithKmipVersions(tt.client...))
			}
			c, err := kmipclient.Dial(s.addr, opts...)
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, tt.want, c.Version())
		})
	}
}
