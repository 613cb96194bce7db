package backend_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// readyFake is a fake whose readiness the test sets.
type readyFake struct {
	fake
	err error
}

func (r *readyFake) Ready(context.Context) error { return r.err }

// TestRouterReady: a Router is ready while one of its roots of trust is.
func TestRouterReady(t *testing.T) {
	down := fmt.Errorf("no member: %w", backend.ErrUnavailable)
	tests := []struct {
		name      string
		hsm, kms  backend.Backend
		wantError []string
	}{
		{"both ready", &readyFake{fake: fake{name: "pkcs11"}}, &readyFake{fake: fake{name: "hpcs"}}, nil},
		{"hsm down", &readyFake{fake: fake{name: "pkcs11"}, err: down}, &readyFake{fake: fake{name: "hpcs"}}, nil},
		{"kms down", &readyFake{fake: fake{name: "pkcs11"}}, &readyFake{fake: fake{name: "hpcs"}, err: down}, nil},
		{"both down", &readyFake{fake: fake{name: "pkcs11"}, err: down}, &readyFake{fake: fake{name: "hpcs"}, err: down}, []string{"pkcs11: no member", "hpcs: no member"}},
		{"one cannot tell", &readyFake{fake: fake{name: "pkcs11"}, err: down}, &fake{name: "hpcs"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := backend.NewRouter(map[string]backend.Backend{"pkcs11": tt.hsm, "hpcs": tt.kms}, "pkcs11")
			require.NoError(t, err)
			err = r.Ready(context.Background())
			if tt.wantError == nil {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, backend.ErrUnavailable)
			for _, w := range tt.wantError {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
