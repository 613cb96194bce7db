package audit

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// InternalTenant is the reserved tenant the chain key is sealed under: the
// root of trust makes it a KEK of its own (NewTenantKey), which the key
// file keeps, wrapped by the root key. Tenant names beginning with
// ReservedPrefix are never given to real tenants, so no KMIP client can
// reach it, and it is never in the object store.
const InternalTenant = "_audit"

// ReservedPrefix begins every internal tenant's name.
const ReservedPrefix = "_"

// IsReservedTenant reports whether name is kept for internal use.
func IsReservedTenant(name string) bool { return strings.HasPrefix(name, ReservedPrefix) }

// keyAAD binds the sealed chain key to this use of the tenant KEK.
const keyAAD = "kmip-adapter/audit/chain-key/v1"

// keyFile is the audit key file: the chain key sealed through the root of
// trust. It holds no plaintext key; without the HSM (or KMS) it opens
// nothing.
type keyFile struct {
	Version int    `json:"version"`
	Tenant  string `json:"tenant"`
	Backend string `json:"backend,omitempty"`
	// TenantKey is the internal tenant's KEK blob (backend.TenantKey).
	TenantKey []byte `json:"tenant_key"`
	// SealedKey is the chain key sealed under it.
	SealedKey []byte    `json:"sealed_key"`
	Created   time.Time `json:"created"`
}

// KeyPath is the key file of the log at logPath when audit.key_file is
// not set.
func KeyPath(logPath string) string { return logPath + ".key" }

// OpenKey reads the key file at path and opens the chain key through be
// (one call to the root of trust).
func OpenKey(ctx context.Context, be backend.Backend, path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	var kf keyFile
	if err := json.Unmarshal(raw, &kf); err != nil {
		return nil, fmt.Errorf("audit key %s: not a key file: %v", path, err)
	}
	if kf.Version != 1 || kf.Tenant != InternalTenant {
		return nil, fmt.Errorf("audit key %s: version %d for tenant %q is not known", path, kf.Version, kf.Tenant)
	}
	key, err := be.Open(ctx, backend.OpenRequest{
		Key:        backend.TenantKey{TenantID: kf.Tenant, Blob: kf.TenantKey, Type: kf.Backend},
		Ciphertext: kf.SealedKey, AdditionalData: []byte(keyAAD),
	})
	if err != nil {
		return nil, fmt.Errorf("audit key %s: open through the root of trust: %w", path, err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("audit key %s: %w: the chain key is %d bytes", path, backend.ErrIntegrity, len(key))
	}
	return key, nil
}

// CreateKey makes a new chain key, seals it through be under a new KEK of
// InternalTenant and writes the key file at path. It never replaces an
// existing file.
func CreateKey(ctx context.Context, be backend.Backend, backendType, path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if r, ok := backend.As[backend.RandomSource](be); ok {
		b, err := r.Random(ctx, KeySize)
		if err != nil {
			return nil, fmt.Errorf("audit key: random: %w", err)
		}
		copy(key, b)
	} else if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tk, err := be.NewTenantKey(ctx, InternalTenant)
	if err != nil {
		return nil, fmt.Errorf("audit key: new internal tenant key: %w", err)
	}
	if tk.Type != "" { // a backend.Router made it: the key file names that root of trust
		backendType = tk.Type
	}
	sealed, err := be.Seal(ctx, backend.SealRequest{Key: tk, Plaintext: key, AdditionalData: []byte(keyAAD)})
	if err != nil {
		return nil, fmt.Errorf("audit key: seal: %w", err)
	}
	body, err := json.MarshalIndent(keyFile{
		Version: 1, Tenant: InternalTenant, Backend: backendType,
		TenantKey: tk.Blob, SealedKey: sealed, Created: time.Now().UTC().Truncate(time.Second),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeNew(path, append(body, '\n')); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return key, nil
}

// rewrapper is what a backend offers for root rotation (backend/pkcs11).
type rewrapper interface {
	NeedsRewrap(tk backend.TenantKey) (bool, error)
	RewrapTenantKey(ctx context.Context, tk backend.TenantKey) (backend.TenantKey, error)
}

// RewrapKey rewraps the key file's internal tenant KEK under the root key
// the backend is configured with now, when it was wrapped under an
// earlier one (a root rotation: see `kmipctl hsm rotate`); the chain key
// does not change. It reports whether the file was rewritten. Once every
// server has started after the rotation, the old root key may go.
func RewrapKey(ctx context.Context, be backend.Backend, path string) (bool, error) {
	rw, ok := be.(rewrapper)
	if !ok {
		return false, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("audit key: %w", err)
	}
	var kf keyFile
	if err := json.Unmarshal(raw, &kf); err != nil {
		return false, fmt.Errorf("audit key %s: not a key file: %v", path, err)
	}
	tk := backend.TenantKey{TenantID: kf.Tenant, Blob: kf.TenantKey, Type: kf.Backend}
	if need, err := rw.NeedsRewrap(tk); err != nil || !need {
		return false, err
	}
	next, err := rw.RewrapTenantKey(ctx, tk)
	if err != nil {
		return false, fmt.Errorf("audit key %s: rewrap: %w", path, err)
	}
	kf.TenantKey = next.Blob
	body, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return false, err
	}
	tmp := path + ".rewrap"
	_ = os.Remove(tmp)
	if err := writeNew(tmp, append(body, '\n')); err != nil {
		return false, fmt.Errorf("audit key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("audit key: %w", err)
	}
	return true, syncDir(path)
}

// OpenOrCreateKey opens the key file at keyPath, or, when neither it nor
// the log at logPath exists yet, creates it. A log without its key file
// is refused: a new key could not continue its chain.
func OpenOrCreateKey(ctx context.Context, be backend.Backend, backendType, keyPath, logPath string) ([]byte, error) {
	if _, err := os.Stat(keyPath); err == nil {
		if _, err := RewrapKey(ctx, be, keyPath); err != nil {
			return nil, err
		}
		return OpenKey(ctx, be, keyPath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	segs, err := segments(logPath)
	if err != nil {
		return nil, err
	}
	if len(segs) > 0 {
		return nil, fmt.Errorf("audit key %s: missing, but the log %s exists: its chain cannot be continued without it "+
			"(restore the key file, or move the log aside to begin a new one)", keyPath, logPath)
	}
	if err := os.MkdirAll(filepath.Dir(keyPath), 0o700); err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return CreateKey(ctx, be, backendType, keyPath)
}

// writeNew writes body to path durably, failing if path exists.
func writeNew(path string, body []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(path)
}
