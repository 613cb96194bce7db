package hpcs

import (
	"context"
	"fmt"

	"github.com/kmip-adapter/kmip-adapter/backend"
)

// Root rotation. Rotating the root key in the KMS keeps its old versions
// for unwrap, so nothing breaks: each tenant key is rewrapped lazily, the
// first time the server unwraps it after the rotation (the KMS answers
// with the rewrapped ciphertext; OnRewrap hands it to the store), or
// eagerly for every tenant by `kmipctl kms rewrap`, which calls the
// methods below. Changing root_key_id to another root key is a rotation
// too: tenant keys name the root key that wrapped them, keep working, and
// are moved to the configured one by the same command. A tenant with a
// root key of its own (backend.TenantKey.Root) stays under it.

// RefreshRootVersion asks the KMS for the configured root key's newest
// version, so that NeedsRewrap can answer from the blob alone.
func (b *Backend) RefreshRootVersion(ctx context.Context) (string, error) {
	info, err := b.client.getKey(ctx, b.cfg.RootKeyID)
	if err != nil {
		return "", fmt.Errorf("hpcs: get root key %s: %w", b.cfg.RootKeyID, err)
	}
	b.noteVersion(b.cfg.RootKeyID, info.Version)
	return info.Version, nil
}

// rootOf is the root key tk is to be under: the tenant's own, or the
// configured one.
func (b *Backend) rootOf(tk backend.TenantKey) string {
	if tk.Root != "" {
		return tk.Root
	}
	return b.cfg.RootKeyID
}

// NeedsRewrap reports whether a tenant key is wrapped by another root key
// than its own (rootOf), or by an older version of it than the newest
// one this backend has seen (call RefreshRootVersion first). It looks at
// the blob only; a malformed blob is ErrIntegrity.
func (b *Backend) NeedsRewrap(tk backend.TenantKey) (bool, error) {
	blob, err := parseBlob(tk.Blob)
	if err != nil {
		return false, fmt.Errorf("hpcs: tenant key of %q: %w", tk.TenantID, err)
	}
	if blob.rootKeyID != b.rootOf(tk) {
		return true, nil
	}
	b.mu.Lock()
	latest, known := b.latest[blob.rootKeyID]
	b.mu.Unlock()
	return !known || latest != blob.keyVersion, nil
}

// RewrapTenantKey returns tk wrapped by the newest version of its root
// key (rootOf): by the KMS's rewrap action (the KEK does not leave the KMS) for
// the same root key, or by unwrap and wrap when moving to another root
// key. The KEK does not change, so everything sealed under it still opens.
func (b *Backend) RewrapTenantKey(ctx context.Context, tk backend.TenantKey) (backend.TenantKey, error) {
	if err := b.open(); err != nil {
		return backend.TenantKey{}, err
	}
	blob, err := parseBlob(tk.Blob)
	if err != nil {
		return backend.TenantKey{}, fmt.Errorf("hpcs: tenant key of %q: %w", tk.TenantID, err)
	}
	root := b.rootOf(tk)
	var next tenantBlob
	if blob.rootKeyID == root {
		res, err := b.client.rewrap(ctx, blob.rootKeyID, blob.ciphertext, kekAAD(tk.TenantID, blob.rootKeyID))
		if err != nil {
			return backend.TenantKey{}, fmt.Errorf("hpcs: rewrap the KEK of tenant %q with root key %s: %w", tk.TenantID, blob.rootKeyID, err)
		}
		if res.KeyVersion != blob.keyVersion {
			return backend.TenantKey{}, fmt.Errorf("hpcs: tenant key blob of %q names root key version %s, the KMS unwrapped it with %s: %w",
				tk.TenantID, blob.keyVersion, res.KeyVersion, backend.ErrIntegrity)
		}
		next = tenantBlob{rootKeyID: blob.rootKeyID, keyVersion: res.RewrappedVersion, ciphertext: res.Ciphertext}
	} else {
		res, err := b.client.unwrap(ctx, blob.rootKeyID, blob.ciphertext, kekAAD(tk.TenantID, blob.rootKeyID))
		if err != nil {
			return backend.TenantKey{}, fmt.Errorf("hpcs: unwrap the KEK of tenant %q with root key %s: %w", tk.TenantID, blob.rootKeyID, err)
		}
		defer clear(res.Plaintext)
		if res.KeyVersion != blob.keyVersion || len(res.Plaintext) != 32 {
			return backend.TenantKey{}, fmt.Errorf("hpcs: tenant key of %q does not match its blob: %w", tk.TenantID, backend.ErrIntegrity)
		}
		w, err := b.client.wrap(ctx, root, res.Plaintext, kekAAD(tk.TenantID, root))
		if err != nil {
			return backend.TenantKey{}, fmt.Errorf("hpcs: wrap the KEK of tenant %q with root key %s: %w", tk.TenantID, root, err)
		}
		next = tenantBlob{rootKeyID: root, keyVersion: w.KeyVersion, ciphertext: w.Ciphertext}
	}
	if next.ciphertext == "" || next.keyVersion == "" {
		return backend.TenantKey{}, fmt.Errorf("hpcs: the KMS answer lacks the rewrapped ciphertext or its key version: %w", backend.ErrUnavailable)
	}
	b.noteVersion(next.rootKeyID, next.keyVersion)
	p, err := next.encode()
	if err != nil {
		return backend.TenantKey{}, err
	}
	return backend.TenantKey{TenantID: tk.TenantID, Blob: p, Type: tk.Type, Root: tk.Root}, nil
}
