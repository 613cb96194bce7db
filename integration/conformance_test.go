package integration

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/integration/conformance"
)

const (
	// vectorsEnv names the folder of the OASIS vectors (absolute, or
	// relative to the repository root) when they are not at
	// defaultVectors.
	vectorsEnv = "KMIP_VECTORS"
	// defaultVectors is where the vectors are, from the repository root.
	defaultVectors = "../shared/kmip-vectors"
	// passingList lists the vectors that pass: the test fails when one
	// of them stops passing.
	passingList = "testdata/conformance-passing.txt"
	// updateEnv, set to 1 (make conformance UPDATE=1), rewrites
	// passingList with the files that pass now.
	updateEnv = "KMIP_CONFORMANCE_UPDATE"
	// traceEnv lists files (comma separated: SKLC-M-1-14,TL-M-3-20)
	// whose requests and responses the test logs.
	traceEnv = "KMIP_CONFORMANCE_TRACE"
	// allEnv, set to 1, replays failing files to their end and reports
	// every difference, not only the first.
	allEnv = "KMIP_CONFORMANCE_ALL"
)

// TestConformance replays the OASIS KMIP profile test vectors of the
// profiles the server claims (Baseline, symmetric and asymmetric key
// lifecycle, symmetric key foundry, opaque objects, self-encrypting
// drives, tape library; protocol 1.0 to 2.1) against a server of its
// own, and compares every response with the one the vector expects (see
// package conformance for what may differ). The files listed in
// testdata/conformance-passing.txt must pass; files that pass and are not
// listed are reported, to be added.
func TestConformance(t *testing.T) {
	dir, files := vectorFiles(t)

	s := conformanceServer(t)
	cfg := s.clientTLS(t)
	opts := conformance.Options{
		Connect: func() (conformance.Session, error) {
			conn, err := dialTLS(s, cfg)
			if err != nil {
				return nil, err
			}
			return tlsSession{conn}, nil
		},
	}
	if testing.Verbose() {
		opts.Logf = t.Logf
	}
	opts.KeepGoing = os.Getenv(allEnv) == "1"
	if names := os.Getenv(traceEnv); names != "" {
		opts.Traced = func(file string) bool { return slices.Contains(strings.Split(names, ","), file) }
		opts.Trace = func(file string, step int, req, want, got *conformance.Node) {
			msg := fmt.Sprintf("%s request %d:\n%s\nexpected:\n%s", file, step+1, req.XML(), want.XML())
			if got != nil {
				msg += "\nreceived:\n" + got.XML()
			}
			t.Log(msg)
		}
	}
	report := conformance.Run(files, opts)
	if testing.Verbose() {
		t.Logf("not claimed, listed and not run:\n%s", strings.Join(report.NotClaimed(), "\n"))
	}
	t.Logf("conformance against %s (vectors in %s):\n%s", s.addr, dir, report.Summary())

	listed, err := readPassingList()
	require.NoError(t, err)
	update := os.Getenv(updateEnv) == "1"
	for _, name := range listed {
		res, ok := report.Result(name)
		switch {
		case !ok:
			t.Errorf("%s is listed in %s but is no vector file of %s", name, passingList, dir)
		case !res.Passed && update:
			t.Logf("%s no longer passes: removed from %s: %s", name, passingList, res)
		case !res.Passed:
			t.Errorf("%s is listed as passing in %s but fails now: %s", name, passingList, res)
		}
	}
	var fresh []string
	for _, name := range report.Passed() {
		if !slices.Contains(listed, name) {
			fresh = append(fresh, name)
		}
	}
	switch {
	case update:
		var buf bytes.Buffer
		require.NoError(t, conformance.WriteList(&buf, report.Passed()))
		require.NoError(t, os.WriteFile(passingList, buf.Bytes(), 0o644)) //nolint:gosec // a checked-in text file
		t.Logf("%s rewritten: %d files pass (%d new)", passingList, len(report.Passed()), len(fresh))
	case len(fresh) > 0:
		t.Logf("%d files pass that %s does not list; add them (make conformance UPDATE=1):\n%s", len(fresh), passingList, strings.Join(fresh, "\n"))
	}
}

// readPassingList reads testdata/conformance-passing.txt (none yet is an
// empty list).
func readPassingList() ([]string, error) {
	f, err := os.Open(passingList)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return conformance.ReadList(f)
}

// conformanceServer starts a server of the conformance run's own, on a
// fresh development directory: the vectors Locate objects by name and
// attributes, so no other test's objects may be in its store.
func conformanceServer(t *testing.T) *server {
	t.Helper()
	requireSoftHSM(t)
	adapter, ctl := bin(t, "kmip-adapter"), bin(t, "kmipctl")
	dir := filepath.Join(suite.tmp, "conformance")
	require.NoError(t, devInit(ctl, dir))
	s, err := startServer(adapter, dir, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := s.stopCleanly(); err != nil {
			t.Errorf("conformance server: %v", err)
		}
	})
	return s
}

// tlsSession is a conformance.Session on a TLS connection.
type tlsSession struct{ conn *tls.Conn }

func (s tlsSession) RoundTrip(req []byte) ([]byte, error) {
	if err := s.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := s.conn.Write(req); err != nil {
		return nil, err
	}
	return readMessage(s.conn)
}

func (s tlsSession) Close() error { return s.conn.Close() }

// vectorFiles finds the OASIS vectors (KMIP_VECTORS, or ../shared next to
// the repository) and lists their files, with their folder; without them the test is skipped
// (failed in CI).
func vectorFiles(t *testing.T) (dir string, files []conformance.File) {
	t.Helper()
	dir = os.Getenv(vectorsEnv)
	if dir == "" {
		dir = defaultVectors
	}
	if !filepath.IsAbs(dir) {
		// The test runs in integration/, one below the root.
		abs, err := filepath.Abs(filepath.Join("..", dir))
		require.NoError(t, err)
		dir = abs
	}
	if _, err := os.Stat(dir); err != nil {
		skipOrFail(t, "OASIS KMIP vectors not found at %s (%v): set %s to their folder; skipping the conformance run", dir, err, vectorsEnv)
	}
	files, err := conformance.Discover(dir)
	require.NoError(t, err)
	return dir, files
}
