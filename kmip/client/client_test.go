package client_test

import (
	"context"
	"crypto/rand"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/certs"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/client"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

// testServer is a real listener on 127.0.0.1:0 in front of the kmiptest
// executor, with a development PKI of keyType.
type testServer struct {
	addr string
	pki  string
}

func startServer(t *testing.T, keyType string) testServer {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, certs.DevPKI(dir, certs.DevPKIOptions{KeyType: keyType}))
	tlsCfg, err := server.TLSConfig(config.TLS{
		CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key"),
		ClientCAFile: filepath.Join(dir, "ca.crt"), MinVersion: "1.2", CipherPreset: "strict",
	})
	require.NoError(t, err)
	srv := server.New(config.Default().Server, tlsCfg, kmiptest.NewExecutor(t), server.SingleTenant("t"), zerolog.New(zerolog.NewTestWriter(t)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return testServer{addr: ln.Addr().String(), pki: dir}
}

func (s testServer) dial(t *testing.T, opts client.Options) *client.Conn {
	t.Helper()
	cfg, err := client.TLSConfig(client.TLSOptions{
		CAFile:   filepath.Join(s.pki, "ca.crt"),
		CertFile: filepath.Join(s.pki, "client.crt"),
		KeyFile:  filepath.Join(s.pki, "client.key"),
	})
	require.NoError(t, err)
	c, err := client.Dial(t.Context(), s.addr, client.ForAddr(cfg, s.addr), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// TestLifecycleAtEveryVersionForm drives a key through its life with the
// typed calls, in the 1.x and 2.x forms, over one persistent connection.
func TestLifecycleAtEveryVersionForm(t *testing.T) {
	srv := startServer(t, certs.KeyTypeRSA)
	for _, v := range []message.Version{message.V1_1, message.V1_2, message.V1_4, message.V2_0, message.V2_1} {
		t.Run(v.String(), func(t *testing.T) {
			ctx := t.Context()
			c := srv.dial(t, client.Options{Version: v})
			assert.Equal(t, v, c.Version())

			name := "key-" + v.String() + "-" + time.Now().Format("150405.000000000")
			attrs := append(client.AESKey(256, kmip14.CryptographicUsageMaskEncrypt|kmip14.CryptographicUsageMaskDecrypt),
				client.Name(name))
			id, err := c.Create(ctx, kmip14.ObjectTypeSymmetricKey, attrs)
			require.NoError(t, err)
			require.NotEmpty(t, id)

			obj, err := c.Get(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, kmip14.ObjectTypeSymmetricKey, obj.Type)
			assert.Equal(t, id, obj.UniqueIdentifier)
			assert.Equal(t, kmip14.CryptographicAlgorithmAES, obj.Algorithm)
			assert.Equal(t, int32(256), obj.Length)
			assert.Len(t, obj.Material, 32)

			require.NoError(t, c.AddAttribute(ctx, id, client.Text("x-Purpose", "bench")))
			got, err := c.GetAttributes(ctx, id, "State", "x-Purpose", "Name")
			require.NoError(t, err)
			st, ok := got.Get("State")
			require.True(t, ok, "State in %v", got)
			state, err := st.Enum()
			require.NoError(t, err)
			assert.Equal(t, uint32(kmip14.StatePreActive), state)
			purpose, ok := got.Get("x-Purpose")
			require.True(t, ok, "x-Purpose in %v", got)
			text, err := purpose.Text()
			require.NoError(t, err)
			assert.Equal(t, "bench", text)
			n, ok := got.Get("Name")
			require.True(t, ok)
			nv, err := n.NameValue()
			require.NoError(t, err)
			assert.Equal(t, name, nv.NameValue)

			all, err := c.GetAttributes(ctx, id)
			require.NoError(t, err)
			assert.Greater(t, len(all), 5, "every attribute when none is named")

			found, err := c.Locate(ctx, client.LocateOptions{Attributes: attr.List{client.Name(name)}})
			require.NoError(t, err)
			assert.Equal(t, []string{id}, found)

			require.NoError(t, c.Activate(ctx, id))
			err = c.Destroy(ctx, id)
			var re *client.ResultError
			require.ErrorAs(t, err, &re, "an Active key cannot be destroyed")
			assert.Equal(t, kmip20.OperationDestroy, re.Operation)
			assert.Equal(t, kmip14.ResultStatusOperationFailed, re.Status)
			assert.NotEmpty(t, re.Message)
			require.NoError(t, c.Revoke(ctx, id, kmip14.RevocationReasonCodeCessationOfOperation, "done", time.Time{}))
			require.NoError(t, c.Destroy(ctx, id))
			_, err = c.Get(ctx, id)
			require.ErrorAs(t, err, &re, "a destroyed key has no material")
		})
	}
}

func TestRegisterKeysAndSecretData(t *testing.T) {
	srv := startServer(t, certs.KeyTypeECDSA)
	for _, v := range []message.Version{message.V1_2, message.V2_1} {
		t.Run(v.String(), func(t *testing.T) {
			ctx := t.Context()
			c := srv.dial(t, client.Options{Version: v})
			material := randomBytes(t, 32)
			id, err := c.Register(ctx, client.SymmetricKeyObject(kmip14.CryptographicAlgorithmAES, material),
				attr.List{{Name: attr.CryptographicUsageMask, Value: attr.Int(int32(kmip14.CryptographicUsageMaskEncrypt))}})
			require.NoError(t, err)
			obj, err := c.Get(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, material, obj.Material)

			secret := []byte("correct horse battery staple")
			sid, err := c.Register(ctx, client.SecretDataObject(kmip14.SecretDataTypePassword, secret),
				attr.List{{Name: attr.CryptographicUsageMask, Value: attr.Int(int32(kmip14.CryptographicUsageMaskVerify))}, client.Text("x-Array", "a1")})
			require.NoError(t, err)
			obj, err = c.Get(ctx, sid)
			require.NoError(t, err)
			assert.Equal(t, kmip14.ObjectTypeSecretData, obj.Type)
			assert.Equal(t, secret, obj.Material)

			found, err := c.Locate(ctx, client.LocateOptions{Attributes: attr.List{client.Text("x-Array", "a1")}})
			require.NoError(t, err)
			assert.Contains(t, found, sid)

			_, err = c.Register(ctx, "not an object", nil)
			assert.Error(t, err)
		})
	}
}

func TestDiscoverAndQuery(t *testing.T) {
	srv := startServer(t, certs.KeyTypeRSA)
	ctx := t.Context()
	c := srv.dial(t, client.Options{Version: message.V1_1, BatchItemIDs: true})
	vs, err := c.DiscoverVersions(ctx)
	require.NoError(t, err)
	assert.Contains(t, vs, message.V2_1)
	vs, err = c.DiscoverVersions(ctx, message.V1_1)
	require.NoError(t, err)
	assert.Equal(t, []message.Version{message.V1_1}, vs)

	q, err := c.Query(ctx, kmip14.QueryFunctionQueryOperations, kmip14.QueryFunctionQueryServerInformation)
	require.NoError(t, err)
	assert.Contains(t, q.Operation, kmip20.OperationCreate)
	assert.NotEmpty(t, q.VendorIdentification)
}

// TestBatchOfSeveralItems: ids are echoed and every item answered, a
// failed item does not hide the others.
func TestBatchOfSeveralItems(t *testing.T) {
	srv := startServer(t, certs.KeyTypeRSA)
	ctx := t.Context()
	c := srv.dial(t, client.Options{})
	create, err := client.CreatePayload(c.Version(), kmip14.ObjectTypeSymmetricKey, client.AESKey(128, kmip14.CryptographicUsageMaskEncrypt))
	require.NoError(t, err)
	rs, err := c.Batch(ctx,
		client.Item{Operation: kmip20.OperationCreate, Payload: create},
		client.Item{Operation: kmip20.OperationGet, Payload: client.GetPayload("no-such-object", 0)},
	)
	require.NoError(t, err)
	require.Len(t, rs, 2)
	assert.NoError(t, rs[0].Err())
	assert.Len(t, rs[0].UniqueBatchItemID, 8)
	assert.NotEqual(t, rs[0].UniqueBatchItemID, rs[1].UniqueBatchItemID)
	var re *client.ResultError
	require.ErrorAs(t, rs[1].Err(), &re)
	assert.Equal(t, kmip20.ResultReasonItemNotFound, re.Reason)
	assert.Contains(t, re.Error(), "Get")
}

// TestEncodedRequestSentManyTimes is how the load generator works: one
// message encoded once, sent again and again on one connection.
func TestEncodedRequestSentManyTimes(t *testing.T) {
	srv := startServer(t, certs.KeyTypeRSA)
	ctx := t.Context()
	c := srv.dial(t, client.Options{Version: message.V1_4})
	msg, err := client.EncodeRequest(client.RequestHeader{Version: message.V1_4},
		[]client.Item{{Operation: kmip20.OperationQuery, Payload: message.QueryRequest{QueryFunction: []kmip14.QueryFunction{kmip14.QueryFunctionQueryObjects}}}}, false, 0)
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		raw, err := c.RoundTrip(ctx, msg)
		require.NoError(t, err)
		resp, err := client.DecodeResponse(raw)
		require.NoError(t, err)
		assert.Equal(t, message.V1_4, resp.Version)
		require.Len(t, resp.Items, 1)
		require.NoError(t, resp.Items[0].Err())
	}
}

func TestEncodeRequestRefusesMistaggedPayload(t *testing.T) {
	_, err := client.EncodeRequest(client.RequestHeader{Version: message.V1_4},
		[]client.Item{{Operation: kmip20.OperationGet, Payload: attr.Text("x")}}, false, 0)
	assert.ErrorContains(t, err, "RequestPayload")
}

func TestAttributesAVersionLacksAreRefused(t *testing.T) {
	_, err := client.CreatePayload(message.V1_0, kmip14.ObjectTypeSymmetricKey,
		attr.List{{Name: attr.Description, Value: attr.Text("1.4 only")}})
	assert.ErrorContains(t, err, "does not exist in KMIP 1.0")
	_, err = client.LocatePayload(message.V1_2, client.LocateOptions{OffsetItems: 3})
	assert.ErrorContains(t, err, "Offset Items")
}

func TestDecodeResponseRefusesWhatIsNotAResponse(t *testing.T) {
	req, err := client.EncodeRequest(client.RequestHeader{Version: message.V1_4}, nil, false, 0)
	require.NoError(t, err)
	_, err = client.DecodeResponse(req)
	assert.ErrorContains(t, err, "not a Response Message")

	// A Batch Count that does not match the items.
	bad, err := ttlv.Marshal(struct {
		TTLVTag        struct{} `ttlv:"ResponseMessage"`
		ResponseHeader struct {
			ProtocolVersion message.Version
			BatchCount      int32
		}
	}{ResponseHeader: struct {
		ProtocolVersion message.Version
		BatchCount      int32
	}{message.V1_4, 2}})
	require.NoError(t, err)
	_, err = client.DecodeResponse(bad)
	assert.ErrorContains(t, err, "Batch Count is 2")
}

func TestDialFailsWithoutTrust(t *testing.T) {
	srv := startServer(t, certs.KeyTypeRSA)
	other := t.TempDir()
	require.NoError(t, certs.DevPKI(other, certs.DevPKIOptions{}))
	cfg, err := client.TLSConfig(client.TLSOptions{
		CAFile: filepath.Join(other, "ca.crt"), CertFile: filepath.Join(other, "client.crt"), KeyFile: filepath.Join(other, "client.key"),
	})
	require.NoError(t, err)
	_, err = client.Dial(t.Context(), srv.addr, client.ForAddr(cfg, srv.addr), client.Options{Timeout: 5 * time.Second})
	assert.Error(t, err, "a server certificate from another CA is refused")

	_, err = client.TLSConfig(client.TLSOptions{CAFile: filepath.Join(other, "ca.crt")})
	assert.Error(t, err)
}

// TestNumericIdentifiersStayText: PyKMIP's identifiers are "1", "2"...;
// the codec would send such a string as an Enumeration (Unique
// Identifier has a 2.x enumeration), which servers refuse.
func TestNumericIdentifiersStayText(t *testing.T) {
	for _, p := range []ttlv.TTLV{client.GetPayload("1", 0), client.GetPayload("42", kmip14.KeyFormatTypeRaw)} {
		id := attr.Children(p)[0]
		assert.Equal(t, kmip14.TagUniqueIdentifier, id.Tag())
		assert.Equal(t, ttlv.TypeTextString, id.Type())
	}
	ga, err := client.GetAttributesPayload(message.V1_4, "7", "State")
	require.NoError(t, err)
	assert.Equal(t, ttlv.TypeTextString, attr.Children(ga)[0].Type())
}
