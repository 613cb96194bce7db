// Package cli is what the two binaries share at their edge: loading the
// configuration with viper (file, KMIP_ADAPTER_* environment variables,
// flags) into config.Config, and setting up zerolog.
package cli
