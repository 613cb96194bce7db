package config

import (
	"fmt"
	"path/filepath"
)

// ReservedTenantPrefix begins the names of internal tenants (the audit
// chain key's "_audit"): no real tenant may take one (audit.IsReservedTenant
// is the same rule for code that cannot import config).
const ReservedTenantPrefix = "_"

func (a *Audit) validate() error {
	if a.Path == "" {
		return nil
	}
	switch a.Sync {
	case "fsync", "none":
	default:
		return fmt.Errorf("audit.sync: %q is not fsync or none", a.Sync)
	}
	if a.MaxSegmentSize != 0 && a.MaxSegmentSize < 64<<10 {
		return fmt.Errorf("audit.max_segment_size: %d is below 65536 (0 never rotates)", a.MaxSegmentSize)
	}
	if a.Preallocate != 0 && a.Preallocate < 64<<10 {
		return fmt.Errorf("audit.preallocate: %d is below 65536 (0 appends)", a.Preallocate)
	}
	if a.KeyFile != "" && filepath.Clean(a.KeyFile) == filepath.Clean(a.Path) {
		return fmt.Errorf("audit.key_file: %q is the log itself", a.KeyFile)
	}
	return nil
}

// AuditKeyFile is the audit key file: KeyFile, or PATH.key.
func (a *Audit) AuditKeyFile() string {
	if a.KeyFile != "" {
		return a.KeyFile
	}
	return a.Path + ".key"
}
