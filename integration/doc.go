// Package integration holds the end-to-end tests of kmip-adapter: they
// build the real binaries, prepare a development environment with
// `kmipctl dev init` (a SoftHSM2 token, a PKI, a configuration), start
// `kmip-adapter serve` on 127.0.0.1:0 and talk to it as users do, with
// independent KMIP clients (Debian's PyKMIP, github.com/ovh/kmip-go) and
// with hand-made TLS connections.
//
// The tests need SoftHSM2 (/usr/lib/softhsm/libsofthsm2.so) and Debian's
// python3-pykmip (/usr/bin/python3 with the kmip module). Without them the
// tests that need them are skipped, unless KMIP_INTEGRATION_REQUIRED=1 is
// set (as in CI), which turns every such skip into a failure.
//
// Run them with: go test ./integration/... -count=1
package integration
