package integration

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildFaultShim compiles testdata/faultshim (a PKCS#11 module in front of
// a real one that fails every call with CKR_DEVICE_ERROR while a file
// exists) into dir and returns its path.
func buildFaultShim(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/miekg/pkcs11").Output()
	require.NoError(t, err, "locating miekg/pkcs11's headers")
	shim := filepath.Join(dir, "faultshim.so")
	cc := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-I", strings.TrimSpace(string(out)),
		"-o", shim, filepath.Join("testdata", "faultshim", "faultshim.c"), "-ldl")
	msg, err := cc.CombinedOutput()
	require.NoError(t, err, "gcc faultshim.c\n%s", msg)
	return shim
}

// TestReadyzFollowsTheHSMSet: /readyz turns unready when the HSM set is
// gone and ready again when it returns, without a restart, and the member
// metrics follow. The set is one SoftHSM2 partition behind a fault shim:
// while the fault file exists every call fails as a network HSM's client
// library fails when its appliance is gone (CKR_DEVICE_ERROR, also after
// the module is initialized again).
func TestReadyzFollowsTheHSMSet(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "ready")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	member := cloneMember(t, dir, "1") // its own token copy, configuration and module copy
	realModule := filepath.Join(dir, "members", "1", "libsofthsm2.so")
	shim := buildFaultShim(t, filepath.Join(dir, "members", "1"))
	member = strings.Replace(member, "module-path="+realModule, "module-path="+shim, 1)
	fault := filepath.Join(dir, "hsm-gone")
	const up = `kmip_adapter_hsm_member_up{member="1",token="kmip-adapter-dev"}`

	s, err := startServer(bin(t, "kmip-adapter"), dir, []string{
		"KMIP_ADAPTER_BACKEND_PKCS11_MEMBERS=" + member,
		"KMIP_ADAPTER_BACKEND_PKCS11_HEALTH_INTERVAL=200ms",
		"KMIP_ADAPTER_BACKEND_PKCS11_MEMBER_RETRY=100ms",
		"KMIP_ADAPTER_BACKEND_PKCS11_MEMBER_RETRY_MAX=200ms",
		"KMIP_FAULT_MODULE=" + realModule,
		"KMIP_FAULT_FILE=" + fault,
	}, "--metrics-listen", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = s.stopCleanly() })
	addr := metricsAddr(t, s)
	c := ovhDial(t, s, kmip.V1_4)
	id := ovhCreateAES(t, c, 256)
	require.Equal(t, http.StatusOK, readyz(t, addr))
	assert.Equal(t, 1.0, scrape(t, addr)[up])

	require.NoError(t, os.WriteFile(fault, nil, 0o600)) // the HSM goes away
	began := time.Now()
	require.Eventually(t, func() bool { return readyz(t, addr) == http.StatusServiceUnavailable }, 10*time.Second, 20*time.Millisecond,
		"unready with the set gone\n%s", lastLines(s.log.String(), 20))
	t.Logf("unready %s after the HSM went away (idle server: found by the health probe)", time.Since(began).Round(time.Millisecond))
	assert.Equal(t, 0.0, scrape(t, addr)[up])
	item := ovhGetResult(t, c, id)
	assert.NotEqual(t, kmip.ResultStatusSuccess, item.ResultStatus, "no member: requests fail")
	assert.Contains(t, item.ResultMessage, "root of trust unavailable")

	require.NoError(t, os.Remove(fault)) // and comes back
	began = time.Now()
	require.Eventually(t, func() bool { return readyz(t, addr) == http.StatusOK }, 20*time.Second, 20*time.Millisecond,
		"ready again once the set returns\n%s", lastLines(s.log.String(), 20))
	t.Logf("ready %s after the HSM came back", time.Since(began).Round(time.Millisecond))
	assert.Equal(t, 1.0, scrape(t, addr)[up])
	_, got := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
	assert.Len(t, got, 32, "the key made before the outage opens")
}
