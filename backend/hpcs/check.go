package hpcs

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Key states as the KMS API numbers them.
const (
	statePreActivation = 0
	stateActive        = 1
	stateSuspended     = 2
	stateDeactivated   = 3
	stateDestroyed     = 5
)

// Check verifies what the adapter needs of the KMS: an IAM token for the
// API key, the root key exists, is a root key and is active, and a
// wrap/unwrap round trip with additional data works. It implements
// backend.Checker (the server runs it at start).
func (b *Backend) Check(ctx context.Context) []backend.CheckResult {
	root := backend.CheckResult{Name: "root key", Label: b.cfg.RootKeyID}
	info, err := b.client.getKey(ctx, b.cfg.RootKeyID)
	if root.Detail = rootKeyProblem(info, err); root.Detail == "" {
		root.OK = true
		root.Detail = "active root key, version " + info.Version
		b.noteVersion(b.cfg.RootKeyID, info.Version)
	}
	self := backend.CheckResult{Name: "wrap/unwrap", Label: b.cfg.RootKeyID}
	if !root.OK {
		self.Detail = "skipped: the root key is not usable"
		return []backend.CheckResult{root, self}
	}
	probe := make([]byte, 32)
	_, _ = rand.Read(probe)
	aad := []string{"kmip-adapter self check"}
	w, err := b.client.wrap(ctx, b.cfg.RootKeyID, probe, aad)
	if err != nil {
		self.Detail = "wrap: " + err.Error()
		return []backend.CheckResult{root, self}
	}
	u, err := b.client.unwrap(ctx, b.cfg.RootKeyID, w.Ciphertext, aad)
	switch {
	case err != nil:
		self.Detail = "unwrap: " + err.Error()
	case !bytes.Equal(u.Plaintext, probe):
		self.Detail = "unwrap returned other bytes than were wrapped"
	default:
		self.OK = true
		self.Detail = "round trip with additional data"
	}
	return []backend.CheckResult{root, self}
}

// rootKeyProblem says why the key the KMS described as info (or answered
// err about) cannot wrap tenant keys; "" when it can.
func rootKeyProblem(info keyInfo, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case info.Extractable:
		return "a standard key, not a root key: it cannot wrap"
	case info.State != stateActive:
		return fmt.Sprintf("key state %d (%s): wrap and unwrap are refused until it is enabled", info.State, stateName(info.State))
	}
	return ""
}

// checkTenantRoot verifies that root, a tenant's own root key, is a
// usable root key of the KMS instance before a KEK is made under it. The
// error names the tenant and the key: ErrKeyMissing for a key the KMS
// does not have or that cannot wrap, the KMS call's error otherwise.
func (b *Backend) checkTenantRoot(ctx context.Context, tenantID, root string) error {
	info, err := b.client.getKey(ctx, root)
	problem := rootKeyProblem(info, err)
	switch {
	case problem == "":
		return nil
	case errors.Is(err, backend.ErrKeyMissing):
		return fmt.Errorf("hpcs: tenant %q: root key %s is not a key this KMS instance knows and lets us use: %w", tenantID, root, err)
	case err != nil:
		return fmt.Errorf("hpcs: tenant %q: root key %s could not be checked: %w", tenantID, root, err)
	}
	return fmt.Errorf("hpcs: tenant %q: root key %s: %s: %w", tenantID, root, problem, backend.ErrKeyMissing)
}

func stateName(s int) string {
	switch s {
	case statePreActivation:
		return "pre-activation"
	case stateActive:
		return "active"
	case stateSuspended:
		return "disabled"
	case stateDeactivated:
		return "deactivated"
	case stateDestroyed:
		return "destroyed"
	}
	return "unknown"
}
