package server_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
)

func TestConfiguredIdentityGivesTheVSphereProfile(t *testing.T) {
	vc := &x509.Certificate{Raw: []byte("vcenter cert"), Subject: pkix.Name{CommonName: "vCenter"}}
	byCN := &x509.Certificate{Raw: []byte("other"), Subject: pkix.Name{CommonName: "VC2"}}
	array := &x509.Certificate{Raw: []byte("array"), Subject: pkix.Name{CommonName: "array"}}
	id := server.ConfiguredIdentity(config.Server{Tenant: "t1", VSphereClients: []string{server.Fingerprint(vc), "cn:vc2"}})
	for _, tt := range []struct {
		cert *x509.Certificate
		want bool
	}{{vc, true}, {byCN, true}, {array, false}} {
		c, err := id(tt.cert)
		require.NoError(t, err)
		assert.Equal(t, "t1", c.Tenant)
		assert.Equal(t, tt.want, c.Policy.ActivateOnCreate, tt.cert.Subject.CommonName)
	}
	assert.True(t, strings.HasPrefix(server.Fingerprint(vc), "sha256:"))
}

func TestActivateOnCreateMakesTheKeyUsableForVCenter(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	vcenter := ops.Client{Tenant: kmiptest.Tenant, Policy: ops.Policy{ActivateOnCreate: true}}
	run := func(c ops.Client, items ...kmiptest.Item) kmiptest.Response {
		out := x.ExecuteFor(context.Background(), c, kmiptest.Request(t, message.V1_1, items...))
		var r kmiptest.Response
		require.NoError(t, ttlv.Unmarshal(out, &r))
		return r
	}
	r := run(vcenter,
		kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_1, 256)},
		kmiptest.Item{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}})
	require.Len(t, r.BatchItem, 2)
	require.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus)
	assert.Equal(t, kmip20.ResultReasonPermissionDenied, r.BatchItem[1].ResultReason, "the vsphere profile's key is Active at once")

	r = run(ops.Client{Tenant: kmiptest.Tenant},
		kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_1, 256)},
		kmiptest.Item{Operation: kmip20.OperationDestroy, RequestPayload: struct{}{}})
	assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[1].ResultStatus, "any other client's key is Pre-Active, as the specification wants")
}
