package ops

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gemalto/kmip-go/kmip20"
	"github.com/stretchr/testify/assert"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
)

func TestResultFor(t *testing.T) {
	tests := []struct {
		name      string
		v         message.Version
		err       error
		reason    message.Reason
		withID    bool
		noLeakage string
	}{
		{"protocol error passes through", message.V1_4, message.Errorf(kmip20.ResultReasonInvalidField, "bad"), kmip20.ResultReasonInvalidField, false, ""},
		{"missing object", message.V1_4, fmt.Errorf("object x: %w", store.ErrNotFound), kmip20.ResultReasonItemNotFound, false, ""},
		{"wrong state 2.1", message.V2_1, fmt.Errorf("%w: active", object.ErrWrongState), kmip20.ResultReasonWrongKeyLifecycleState, false, ""},
		{"wrong state 2.0, as its test cases answer", message.V2_0, fmt.Errorf("%w: active", object.ErrWrongState), kmip20.ResultReasonPermissionDenied, false, ""},
		{"wrong state 1.x", message.V1_2, fmt.Errorf("%w: active", object.ErrWrongState), kmip20.ResultReasonPermissionDenied, false, ""},
		{"destroyed 2.x", message.V2_1, object.ErrDestroyed, kmip20.ResultReasonObjectDestroyed, false, ""},
		{"HSM down", message.V1_4, fmt.Errorf("seal: %w: CKR_DEVICE_ERROR", backend.ErrUnavailable), kmip20.ResultReasonGeneralFailure, true, "CKR_DEVICE_ERROR"},
		{"tampered store", message.V1_4, fmt.Errorf("open: %w", backend.ErrIntegrity), kmip20.ResultReasonCryptographicFailure, true, ""},
		{"kept key use the HSM lacks", message.V2_0, fmt.Errorf("kept decrypt: %w: CKR_MECHANISM_PARAM_INVALID", backend.ErrNotSupported), kmip20.ResultReasonFeatureNotSupported, false, "CKR_"},
		{"unknown error", message.V1_4, errors.New("secret detail /etc/passwd"), kmip20.ResultReasonGeneralFailure, true, "secret detail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ResultFor(tt.v, tt.err)
			assert.Equal(t, tt.reason, r.Reason)
			assert.Equal(t, tt.withID, r.ErrorID != "")
			if tt.withID {
				assert.Contains(t, r.Message, r.ErrorID, "the client can quote the id to the operator")
			}
			if tt.noLeakage != "" {
				assert.NotContains(t, r.Message, tt.noLeakage, "internal detail stays in the log")
			}
		})
	}
}
