package pkcs11

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/config"
)

const (
	softHSM2Module = "/usr/lib/softhsm/libsofthsm2.so"
	testUserPIN    = "user-pin-4711"
	testSOPIN      = "so-pin-0815"
	testToken      = "kmip-test"
)

var (
	// skipReason is set when SoftHSM2 is not installed; the tests that
	// need it skip with it.
	skipReason string
	// testDir holds the token directory, the SoftHSM2 configuration and
	// the PIN file for the whole run: SoftHSM2 reads SOFTHSM2_CONF once
	// per process, so every test shares one token directory.
	testDir string
	// testCfg is the provisioned token's configuration.
	testCfg config.PKCS11
	// haCfg is an HA set of two members: copies of the provisioned token
	// in their own token directories, each reached through its own copy
	// of the SoftHSM2 module (as each p11-kit-client member needs its own
	// copy of the client module), so that each can fail alone.
	haCfg config.PKCS11
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	if _, err := os.Stat(softHSM2Module); err != nil {
		skipReason = fmt.Sprintf("SoftHSM2 is not installed (%s: %v); apt-get install softhsm2", softHSM2Module, err)
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "kmip-pkcs11-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testDir = dir
	conf, err := WriteSoftHSM2Conf(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	pinFile := filepath.Join(dir, "pin")
	if err := os.WriteFile(pinFile, []byte(testUserPIN+"\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testCfg = config.Default().Backend.PKCS11
	testCfg.Module = softHSM2Module
	testCfg.SoftHSM2Conf = conf
	testCfg.TokenLabel = testToken
	testCfg.PIN = config.Secret{File: pinFile}
	testCfg.SessionPoolSize = 4

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Provision(ctx, ProvisionOptions{PKCS11: testCfg, SOPIN: testSOPIN, UserPIN: testUserPIN}); err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		return 1
	}
	haCfg = testCfg
	haCfg.TokenLabel = ""
	for i := 1; i <= 2; i++ {
		uri, err := cloneMember(filepath.Join(dir, fmt.Sprintf("m%d", i)), filepath.Join(dir, "tokens"), testToken)
		if err != nil {
			fmt.Fprintln(os.Stderr, "clone member:", err)
			return 1
		}
		haCfg.Members = append(haCfg.Members, uri)
	}
	haCfg.MemberRetry = 10 * time.Millisecond
	haCfg.MemberRetryMax = 100 * time.Millisecond
	haCfg.HealthInterval = 50 * time.Millisecond
	return m.Run()
}

// cloneMember makes dir a member of the HA set: a copy of the token
// directory tokens, a SoftHSM2 configuration for it and a copy of the
// SoftHSM2 module. It returns the member's URI.
func cloneMember(dir, tokens, label string) (string, error) {
	if err := os.CopyFS(filepath.Join(dir, "tokens"), os.DirFS(tokens)); err != nil {
		return "", err
	}
	conf, err := WriteSoftHSM2Conf(dir)
	if err != nil {
		return "", err
	}
	lib, err := os.ReadFile(softHSM2Module)
	if err != nil {
		return "", err
	}
	module := filepath.Join(dir, "libsofthsm2.so")
	if err := os.WriteFile(module, lib, 0o755); err != nil {
		return "", err
	}
	return "pkcs11:token=" + label + "?module-path=" + module + "&x-softhsm2-conf=" + conf, nil
}

func requireSoftHSM2(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// adminSession opens a logged-in session on the token cfg names, for
// tests that look at or change the token behind the backend's back.
func adminSession(t *testing.T, cfg config.PKCS11) (*module, pkcs11.SessionHandle) {
	t.Helper()
	mod, err := acquireModule(cfg.Module, moduleEnv{}, 0)
	require.NoError(t, err)
	t.Cleanup(mod.release)
	slot, err := findSlot(mod, cfg.TokenLabel)
	require.NoError(t, err)
	s, err := mod.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	require.NoError(t, err)
	t.Cleanup(func() { _ = mod.CloseSession(s) })
	if err := mod.Login(s, pkcs11.CKU_USER, testUserPIN); err != nil {
		require.True(t, isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN), "login: %v", err)
	}
	return mod, s
}

// tokenObjects counts the token objects of the token cfg names.
func tokenObjects(t *testing.T, cfg config.PKCS11) int {
	t.Helper()
	mod, s := adminSession(t, cfg)
	require.NoError(t, mod.FindObjectsInit(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true)}))
	defer func() { require.NoError(t, mod.FindObjectsFinal(s)) }()
	n := 0
	for {
		hs, _, err := mod.FindObjects(s, 100)
		require.NoError(t, err)
		if len(hs) == 0 {
			return n
		}
		n += len(hs)
	}
}

// destroyObject deletes the one object of class labelled label.
func destroyObject(t *testing.T, cfg config.PKCS11, class uint, label string) {
	t.Helper()
	mod, s := adminSession(t, cfg)
	hs, err := findObjects(mod, s, class, label)
	require.NoError(t, err)
	require.Len(t, hs, 1)
	require.NoError(t, mod.DestroyObject(s, hs[0]))
}

// openTest opens a backend on cfg, closed when the test ends.
func openTest(t *testing.T, cfg config.PKCS11) *Backend {
	t.Helper()
	b, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}
