package backend

import "context"

type tenantRootKey struct{}

// WithTenantRoot asks the backend, through ctx, to wrap the new tenant
// key of NewTenantKey under root: the tenant's own root key in the root of
// trust (store.TenantSettings.Root, set by the admin API) instead of the
// backend's configured one. "" keeps the configured root. A backend
// checks that it has the root before using it; one without per-tenant
// roots (pkcs11) ignores it.
func WithTenantRoot(ctx context.Context, root string) context.Context {
	if root == "" {
		return ctx
	}
	return context.WithValue(ctx, tenantRootKey{}, root)
}

// TenantRootFrom returns the root that WithTenantRoot put in ctx, "" for
// none.
func TenantRootFrom(ctx context.Context) string {
	root, _ := ctx.Value(tenantRootKey{}).(string)
	return root
}
