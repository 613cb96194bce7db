package cli

// Version is the release, set at link time:
// -ldflags "-X github.com/kmip-adapter/kmip-adapter/cmd/internal/cli.Version=v1.2.3".
var Version = "dev"
