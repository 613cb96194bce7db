package message

import (
	"testing"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"
)

func TestNegotiate(t *testing.T) {
	tests := []struct{ in, want Version }{
		{V1_0, V1_0}, {V1_4, V1_4}, {V2_1, V2_1},
		{Version{Major: 1, Minor: 5}, V1_4}, {Version{Major: 2, Minor: 9}, V2_1}, {Version{Major: 3, Minor: 0}, V2_1}, {Version{Major: 0, Minor: 9}, V1_0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Negotiate(tt.in), "Negotiate(%s)", tt.in)
	}
}

func TestReasonFor(t *testing.T) {
	tests := []struct {
		v      Version
		in     Reason
		want   Reason
		reason string
	}{
		{V2_1, kmip20.ResultReasonWrongKeyLifecycleState, kmip20.ResultReasonWrongKeyLifecycleState, "2.1 has it"},
		{V2_0, kmip20.ResultReasonWrongKeyLifecycleState, kmip20.ResultReasonPermissionDenied, "2.0's test cases answer Permission Denied"},
		{V1_4, kmip20.ResultReasonWrongKeyLifecycleState, kmip20.ResultReasonPermissionDenied, "1.x gets Permission Denied"},
		{V1_4, kmip20.ResultReasonObjectDestroyed, kmip20.ResultReasonItemNotFound, ""},
		{V1_4, kmip20.ResultReasonSensitive, kmip20.ResultReasonSensitive, "1.4 added Sensitive"},
		{V1_3, kmip20.ResultReasonSensitive, kmip20.ResultReasonPermissionDenied, ""},
		{V1_1, kmip20.ResultReasonAttestationRequired, kmip20.ResultReasonPermissionDenied, "1.2 added attestation"},
		{V1_0, kmip20.ResultReasonInvalidMessage, kmip20.ResultReasonInvalidMessage, "1.0 reasons pass"},
		{V1_0, kmip20.ResultReasonGeneralFailure, kmip20.ResultReasonGeneralFailure, ""},
		{V1_2, kmip20.ResultReasonPKCS_11CodecError, kmip20.ResultReasonGeneralFailure, "no fallback: General Failure"},
		{V1_3, kmip20.ResultReasonObjectAlreadyExists, kmip20.ResultReasonIllegalOperation, "1.4 reason, older fallback"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ReasonFor(tt.v, tt.in), "%s %s %s", tt.v, tt.in, tt.reason)
	}
}

func TestOperationAndObjectTypeTables(t *testing.T) {
	assert.False(t, OperationIn(kmip20.OperationDiscoverVersions, V1_0))
	assert.True(t, OperationIn(kmip20.OperationDiscoverVersions, V1_1))
	assert.False(t, OperationIn(kmip20.OperationSetAttribute, V1_4))
	assert.True(t, OperationIn(kmip20.OperationSetAttribute, V2_0))
	assert.True(t, ObjectTypeIn(6, V1_4), "Template exists in 1.x")
	assert.False(t, ObjectTypeIn(6, V2_0), "Template is gone in 2.0")
}
