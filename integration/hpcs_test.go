package integration

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gkmip14 "github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/backend/hpcs/kmsdev"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// These tests run the real kmip-adapter with its default tenant on the
// hpcs backend, against the KMS stand-in (backend/hpcs/kmsdev) started in
// the test process, whose root key the tests rotate, disable and enable,
// and into which they inject faults.

// hpcsCacheTTL is the KEK cache time of the servers below: the bound on
// crypto-shredding that the tests measure.
const hpcsCacheTTL = 2 * time.Second

// hpcsEnv is the environment of a server on the stand-in: a short cache
// time, few quick retries and a quick circuit breaker, so that the tests
// run in seconds.
var hpcsEnv = []string{
	"KMIP_ADAPTER_BACKEND_HPCS_CACHE_TTL=" + hpcsCacheTTL.String(),
	"KMIP_ADAPTER_BACKEND_HPCS_RETRIES=2",
	"KMIP_ADAPTER_BACKEND_HPCS_RETRY_BASE=20ms",
	"KMIP_ADAPTER_BACKEND_HPCS_RETRY_MAX=100ms",
	"KMIP_ADAPTER_BACKEND_HPCS_BREAKER_THRESHOLD=3",
	"KMIP_ADAPTER_BACKEND_HPCS_BREAKER_COOLDOWN=500ms",
	"KMIP_ADAPTER_BACKEND_HPCS_TIMEOUT=2s",
}

// kmsStandIn starts the KMS stand-in in this process on a loopback port.
func kmsStandIn(t *testing.T) (*kmsdev.Server, string) {
	t.Helper()
	kms, err := kmsdev.New(kmsdev.Config{})
	require.NoError(t, err)
	kms.CreateRootKey("kmip-adapter-root")
	srv := httptest.NewServer(kms)
	t.Cleanup(srv.Close)
	return kms, srv.URL
}

// hpcsServer prepares a development directory whose default tenant is on
// the KMS at kmsURL (`kmipctl dev init --backend hpcs`) and starts a
// server on it, with the extra command-line arguments args.
func hpcsServer(t *testing.T, kmsURL string, args ...string) (*server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "hpcs")
	cmd := exec.Command(bin(t, "kmipctl"), "dev", "init", "--dir", dir, "--listen", "127.0.0.1:0",
		"--backend", "hpcs", "--kms-url", kmsURL)
	cmd.Env = environ()
	out, err := runWithTimeout(cmd, cmdTimeout)
	require.NoError(t, err, "kmipctl dev init --backend hpcs\n%s", out)
	assert.Contains(t, string(out), "kms      "+kmsURL)
	s, err := startServer(bin(t, "kmip-adapter"), dir, hpcsEnv, args...)
	require.NoError(t, err)
	t.Cleanup(func() { _, _, _ = s.stop(stopTimeout) })
	return s, dir
}

// ovhGetResult is a Get whose failure the test looks at.
func ovhGetResult(t *testing.T, c *kmipclient.Client, id string) kmip.ResponseBatchItem {
	t.Helper()
	return ovhResult(t, c, &payloads.GetRequestPayload{UniqueIdentifier: id, KeyFormatType: kmip.KeyFormatTypeRaw})
}

func ovhMaterial(t *testing.T, item kmip.ResponseBatchItem) []byte {
	t.Helper()
	resp, ok := item.ResponsePayload.(*payloads.GetResponsePayload)
	require.True(t, ok, "Get answered %T", item.ResponsePayload)
	key, ok := resp.Object.(*kmip.SymmetricKey)
	require.True(t, ok)
	m, err := key.KeyMaterial()
	require.NoError(t, err)
	return m
}

// tenantRecord reads the default tenant's backend and key blob from the
// store (the server must be stopped).
func tenantRecord(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	st, err := bbolt.Open(filepath.Join(dir, "data", "store.db"))
	require.NoError(t, err)
	defer st.Close()
	ten, err := st.GetTenant(context.Background(), "default")
	require.NoError(t, err)
	return ten.Backend, ten.KeyBlob
}

// TestHPCSVCenterConversation: a tenant on the hpcs backend serves the
// vCenter conversation (KMIP 1.1, key Active at once, three custom
// attributes, Get), a client creating a named key and finding it by
// Locate, and PyKMIP's lifecycle; the tenant's key is a KMS ciphertext.
func TestHPCSVCenterConversation(t *testing.T) {
	kms, kmsURL := kmsStandIn(t)
	s, dir := hpcsServer(t, kmsURL)
	wraps, unwraps := kms.Count("wrap"), kms.Count("unwrap") // the start-up checks'

	vc := openWire(t, s, "vcenter", 1, 1)
	vc.call(gkmip14.OperationDiscoverVersions, payload())
	id := vc.create()
	productVersion := custom("x-Product_Version", "8.0.2")
	assert.Empty(t, vc.getAttributes(id, productVersion), "%s", vc.last)
	added := []sentAttr{productVersion, custom("x-Vendor", "VMware, Inc."), custom("x-Product", "VMware vSphere")}
	items := make([]wireItem, len(added))
	for i, a := range added {
		items[i] = wireItem{gkmip14.OperationAddAttribute, payload(ttlv.NewValue(gkmip14.TagUniqueIdentifier, id), a.wire(false))}
	}
	for i, r := range vc.exchange(items...) {
		assert.Equal(t, gkmip14.ResultStatusSuccess, r.ResultStatus, "Add Attribute %s: %s\n%s", added[i].name, r.ResultMessage, vc.last)
	}
	attrs := byName(vc.getAttributes(id, append([]sentAttr{std(gkmip14.TagState, nil)}, added...)...))
	if assert.Len(t, attrs["State"], 1, "%s", vc.last) {
		assert.Equal(t, uint32(gkmip14.StateActive), enumValue(attrs["State"][0]), "vsphere profile: Active on create\n%s", vc.last)
	}
	for _, a := range added {
		vc.assertAttr(attrs, a)
	}
	vcMaterial := vc.getKey(id)

	// A client that names its keys and finds them again.
	cl := openWire(t, s, "client", 1, 3)
	name := std(gkmip14.TagName, ttlv.Values{
		ttlv.NewValue(gkmip14.TagNameValue, "hpcs-"+randomHex(t, 4)),
		ttlv.NewValue(gkmip14.TagNameType, gkmip14.NameTypeUninterpretedTextString),
	})
	named := cl.create(name)
	assert.Equal(t, []string{named}, cl.locate(name), "Locate by Name\n%s", cl.last)
	cl.assertAttr(byName(cl.getAttributes(named, name)), name)
	cl.getKey(named)

	// One KEK for the tenant, made by the KMS, then cached (unwrapped
	// again only once per cache time).
	assert.Equal(t, wraps+1, kms.Count("wrap"), "the tenant KEK is made by one wrap")
	assert.Less(t, kms.Count("unwrap")-unwraps, 5, "the KEK is cached, not unwrapped per request")

	t.Run("PyKMIP", func(t *testing.T) {
		requirePyKMIP(t)
		var got pyLifecycle
		runPyKMIP(t, s, &got, "--version", "1.2", "--length", "256", "lifecycle")
		require.Nil(t, got.Fatal, "PyKMIP failed: %+v", got.Fatal)
		assert.Equal(t, got.Create.UID, got.Get.UID)
		assert.Len(t, got.Get.material(t), 32)
	})

	_, err := s.stopCleanly()
	require.NoError(t, err)
	typ, blob := tenantRecord(t, dir)
	assert.Equal(t, "hpcs", typ)
	assert.True(t, bytes.HasPrefix(blob, []byte("HPCSKEK")), "the tenant key is an hpcs blob")

	// After a restart the KEK is unwrapped by the KMS, and the key reads
	// back the same.
	s2, err := startServer(bin(t, "kmip-adapter"), dir, hpcsEnv)
	require.NoError(t, err)
	defer s2.stop(stopTimeout)
	before := kms.Count("unwrap")
	vc2 := openWire(t, s2, "vcenter", 1, 1)
	assert.Equal(t, vcMaterial, vc2.getKey(id))
	assert.Equal(t, before+1, kms.Count("unwrap"))
}

// TestHPCSRootRotation: rotating the root key in the KMS loses nothing:
// Get returns the same keys, the first unwrap after the rotation stores
// the rewrapped tenant key (lazy rewrap), and `kmipctl kms rewrap` finds
// nothing left to do; after a second rotation it rewraps eagerly.
func TestHPCSRootRotation(t *testing.T) {
	kms, kmsURL := kmsStandIn(t)
	root := kms.RootKeyIDs()[0]
	s, dir := hpcsServer(t, kmsURL)
	c := ovhDial(t, s, kmip.V1_4)
	keys := map[string][]byte{}
	for range 4 {
		id := ovhCreateAES(t, c, 256)
		_, keys[id] = ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
	}

	require.NoError(t, kms.Rotate(root))
	time.Sleep(hpcsCacheTTL + 200*time.Millisecond) // the cached KEK expires: the next Get unwraps
	for id, want := range keys {
		_, got := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
		assert.Equal(t, want, got, "key %s after the rotation", id)
	}
	require.Eventually(t, func() bool { return s.logged("rewrapped tenant key stored") }, 5*time.Second, 50*time.Millisecond,
		"the lazily rewrapped tenant key is stored\n%s", s.log.String())
	_, err := s.stopCleanly()
	require.NoError(t, err)

	rewrap := func() string {
		t.Helper()
		cmd := exec.Command(bin(t, "kmipctl"), "kms", "rewrap", "--config", filepath.Join(dir, "config.yaml"))
		cmd.Env = environ()
		out, err := runWithTimeout(cmd, cmdTimeout)
		require.NoError(t, err, "kmipctl kms rewrap\n%s", out)
		return string(out)
	}
	assert.Contains(t, rewrap(), "rewrapped now: 0;", "the server stored the rewrap already")

	_, stored := tenantRecord(t, dir)
	require.NoError(t, kms.Rotate(root))
	out := rewrap()
	assert.Contains(t, out, "rewrapped now: 1;")
	_, again := tenantRecord(t, dir)
	assert.NotEqual(t, stored, again, "the eager rewrap stored a new blob")
	assert.Contains(t, rewrap(), "rewrapped now: 0;")

	s2, err := startServer(bin(t, "kmip-adapter"), dir, hpcsEnv)
	require.NoError(t, err)
	defer s2.stop(stopTimeout)
	c2 := ovhDial(t, s2, kmip.V1_4)
	before := kms.Count("unwrap")
	for id, want := range keys {
		_, got := ovhGetKey(t, c2, id, kmip.KeyFormatTypeRaw)
		assert.Equal(t, want, got, "key %s after the eager rewrap", id)
	}
	assert.Greater(t, kms.Count("unwrap"), before)
	assert.False(t, s2.logged("rewrapped tenant key stored"), "no rewrap answer: the stored key is current")
}

// TestHPCSCryptoShredding: disabling the root key makes the tenant's keys
// unusable within the cache time (KMIP clients get an error, the log
// names KEY_ACTION_INVALID_STATE_ERR); enabling it restores them.
func TestHPCSCryptoShredding(t *testing.T) {
	kms, kmsURL := kmsStandIn(t)
	root := kms.RootKeyIDs()[0]
	s, _ := hpcsServer(t, kmsURL)
	c := ovhDial(t, s, kmip.V1_4)
	id := ovhCreateAES(t, c, 256)
	_, want := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)

	require.NoError(t, kms.Disable(root))
	disabled := time.Now()
	var failed kmip.ResponseBatchItem
	for time.Since(disabled) < hpcsCacheTTL+3*time.Second {
		failed = ovhGetResult(t, c, id)
		if failed.ResultStatus != kmip.ResultStatusSuccess {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	shredAfter := time.Since(disabled)
	require.NotEqual(t, kmip.ResultStatusSuccess, failed.ResultStatus, "still served %s after the root key was disabled", shredAfter)
	assert.LessOrEqual(t, shredAfter, hpcsCacheTTL+time.Second, "unusable within the cache time")
	t.Logf("tenant unusable %s after the root key was disabled (cache time %s)", shredAfter.Round(time.Millisecond), hpcsCacheTTL)
	assert.Equal(t, kmip.ResultReasonGeneralFailure, failed.ResultReason)
	assert.Contains(t, failed.ResultMessage, "root of trust")
	assert.True(t, s.loggedSoon("KMS refused the tenant key"), "%s", s.log.String())
	assert.Contains(t, s.log.String(), "KEY_ACTION_INVALID_STATE_ERR")

	// New keys cannot be made either (their material is sealed under the
	// tenant KEK), and nothing half-made is left behind.
	created := ovhResult(t, c, c.Create().AES(256, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).RequestPayload())
	assert.Equal(t, kmip.ResultStatusOperationFailed, created.ResultStatus)

	require.NoError(t, kms.Enable(root))
	item := ovhGetResult(t, c, id)
	require.Equal(t, kmip.ResultStatusSuccess, item.ResultStatus, "%s", item.ResultMessage)
	assert.Equal(t, want, ovhMaterial(t, item), "the same key once the root key is enabled")
	ovhCreateAES(t, c, 256)

	// Access revoked (the service ID's policy removed): the same within
	// the cache time; restored access restores the tenant.
	kms.SetAccess(false)
	revoked := time.Now()
	require.Eventually(t, func() bool { return ovhGetResult(t, c, id).ResultStatus != kmip.ResultStatusSuccess },
		hpcsCacheTTL+3*time.Second, 100*time.Millisecond, "still served after access was revoked")
	assert.LessOrEqual(t, time.Since(revoked), hpcsCacheTTL+time.Second)
	assert.Contains(t, s.log.String(), "UNAUTHORIZED_ERR")
	kms.SetAccess(true)
	item = ovhGetResult(t, c, id)
	require.Equal(t, kmip.ResultStatusSuccess, item.ResultStatus, "%s", item.ResultMessage)
	assert.Equal(t, want, ovhMaterial(t, item))
}

// TestHPCSOutage: a KMS answering 503 for a while costs no key: Gets
// served from the cache keep working, the rest fail fast once the
// circuit opens, and the server recovers by itself when the KMS does.
func TestHPCSOutage(t *testing.T) {
	kms, kmsURL := kmsStandIn(t)
	s, _ := hpcsServer(t, kmsURL)
	c := ovhDial(t, s, kmip.V1_4)
	keys := map[string][]byte{}
	for range 3 {
		id := ovhCreateAES(t, c, 256)
		_, keys[id] = ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
	}

	// A fresh unwrap just before the outage: the cache then serves for
	// one cache time into it.
	time.Sleep(hpcsCacheTTL)
	for id := range keys {
		ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
		break
	}
	const outage = 5 * time.Second
	kms.SetFaults(kmsdev.Faults{Status: http.StatusServiceUnavailable, For: outage})
	began := time.Now()
	var served, failed int
	var slowest time.Duration
	for time.Since(began) < outage-500*time.Millisecond {
		for id, want := range keys {
			t0 := time.Now()
			item := ovhGetResult(t, c, id)
			if d := time.Since(t0); d > slowest && item.ResultStatus != kmip.ResultStatusSuccess {
				slowest = d
			}
			if item.ResultStatus == kmip.ResultStatusSuccess {
				served++
				assert.Equal(t, want, ovhMaterial(t, item))
			} else {
				failed++
				assert.Contains(t, item.ResultMessage, "root of trust unavailable")
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("during a %s outage: %d Gets served from the cache, %d refused; slowest refusal %s", outage, served, failed, slowest.Round(time.Millisecond))
	assert.Positive(t, served, "the cache serves at first")
	assert.Positive(t, failed, "after the cache time the KMS is needed")
	assert.Less(t, slowest, 2*time.Second, "refusals are quick (retries bounded, then the circuit breaker)")
	assert.Contains(t, s.log.String(), "SERVICE_UNAVAILABLE_ERR")

	// Recovery by itself: no restart, no operator.
	require.Eventually(t, func() bool {
		for id := range keys {
			if ovhGetResult(t, c, id).ResultStatus != kmip.ResultStatusSuccess {
				return false
			}
		}
		return true
	}, outage+5*time.Second, 200*time.Millisecond, "the server recovers once the KMS does")
	for id, want := range keys {
		_, got := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
		assert.Equal(t, want, got, "key %s after the outage", id)
	}
}

// TestKmipctlDevKMS: `kmipctl dev kms` runs the stand-in as a process; a
// development environment made on it serves keys, and the stand-in keeps
// its keys across a restart (state file), so the tenant survives it.
func TestKmipctlDevKMS(t *testing.T) {
	base := t.TempDir()
	kmsDir := filepath.Join(base, "kms")
	startKMS := func() (string, func()) {
		t.Helper()
		cmd := exec.Command(bin(t, "kmipctl"), "dev", "kms", "--listen", "127.0.0.1:0", "--dir", kmsDir)
		cmd.Env = environ()
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		fields := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && sc.Text() != "ready" {
			k, v, _ := strings.Cut(sc.Text(), " ")
			fields[k] = strings.TrimSpace(v)
		}
		for _, k := range []string{"url", "instance_id", "api_key_file", "root_key_id"} {
			require.NotEmpty(t, fields[k], "kmipctl dev kms prints %s", k)
		}
		stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
		t.Cleanup(stop)
		return fields["url"], stop
	}
	kmsURL, stopKMS := startKMS()
	s, dir := hpcsServer(t, kmsURL)
	c := ovhDial(t, s, kmip.V2_0)
	id := ovhCreateAES(t, c, 256)
	_, want := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
	_, err := s.stopCleanly()
	require.NoError(t, err)
	stopKMS()

	// The stand-in again, on another port: point the configuration at it.
	kmsURL, _ = startKMS()
	env := append([]string{"KMIP_ADAPTER_BACKEND_HPCS_URL=" + kmsURL, "KMIP_ADAPTER_BACKEND_HPCS_IAM_URL=" + kmsURL + "/identity/token"}, hpcsEnv...)
	s2, err := startServer(bin(t, "kmip-adapter"), dir, env)
	require.NoError(t, err)
	defer s2.stop(stopTimeout)
	_, got := ovhGetKey(t, ovhDial(t, s2, kmip.V2_0), id, kmip.KeyFormatTypeRaw)
	assert.Equal(t, want, got)

	check := exec.Command(bin(t, "kmipctl"), "kms", "check", "--config", filepath.Join(dir, "config.yaml"))
	check.Env = append(environ(), env[:2]...)
	out, err := runWithTimeout(check, cmdTimeout)
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "all 2 checks passed")
}

// TestHPCSMixedRootsOfTrust: one configuration, both roots of trust
// (backend.types: pkcs11, hpcs). A tenant made on the SoftHSM2 token
// before keeps it; a tenant made now goes to the KMS (backend.type hpcs);
// the same server configuration serves both, each on its own root.
func TestHPCSMixedRootsOfTrust(t *testing.T) {
	requireSoftHSM(t)
	kms, kmsURL := kmsStandIn(t)
	dir := filepath.Join(t.TempDir(), "mixed")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	keyFile := filepath.Join(dir, "kms-api-key")
	require.NoError(t, os.WriteFile(keyFile, []byte(kms.APIKey()), 0o600))

	// The default tenant on the HSM, as every development environment.
	s, err := startServer(bin(t, "kmip-adapter"), dir, nil)
	require.NoError(t, err)
	c := ovhDial(t, s, kmip.V1_4)
	onHSM := ovhCreateAES(t, c, 256)
	_, hsmMaterial := ovhGetKey(t, c, onHSM, kmip.KeyFormatTypeRaw)
	_, err = s.stopCleanly()
	require.NoError(t, err)

	mixed := append([]string{
		"KMIP_ADAPTER_BACKEND_TYPES=pkcs11,hpcs",
		"KMIP_ADAPTER_BACKEND_TYPE=hpcs",
		"KMIP_ADAPTER_BACKEND_HPCS_URL=" + kmsURL,
		"KMIP_ADAPTER_BACKEND_HPCS_IAM_URL=" + kmsURL + "/identity/token",
		"KMIP_ADAPTER_BACKEND_HPCS_INSTANCE_ID=" + kms.InstanceID(),
		"KMIP_ADAPTER_BACKEND_HPCS_ROOT_KEY_ID=" + kms.RootKeyIDs()[0],
		"KMIP_ADAPTER_BACKEND_HPCS_API_KEY_FILE=" + keyFile,
	}, hpcsEnv...)
	serveAs := func(tenant string) *server {
		t.Helper()
		s, err := startServer(bin(t, "kmip-adapter"), dir, append(mixed, "KMIP_ADAPTER_SERVER_TENANT="+tenant))
		require.NoError(t, err)
		return s
	}

	// A new tenant goes to the KMS.
	wraps := kms.Count("wrap")
	s = serveAs("cloud")
	c = ovhDial(t, s, kmip.V1_4)
	onKMS := ovhCreateAES(t, c, 256)
	_, kmsMaterial := ovhGetKey(t, c, onKMS, kmip.KeyFormatTypeRaw)
	assert.Greater(t, kms.Count("wrap"), wraps+1, "the start-up check and the new tenant's KEK")
	_, err = s.stopCleanly()
	require.NoError(t, err)

	// The HSM tenant still opens on the HSM, under the same configuration.
	s = serveAs("default")
	unwraps := kms.Count("unwrap")
	_, got := ovhGetKey(t, ovhDial(t, s, kmip.V1_4), onHSM, kmip.KeyFormatTypeRaw)
	assert.Equal(t, hsmMaterial, got)
	assert.Equal(t, unwraps, kms.Count("unwrap"), "the HSM tenant does not touch the KMS")
	_, err = s.stopCleanly()
	require.NoError(t, err)

	s = serveAs("cloud")
	_, got = ovhGetKey(t, ovhDial(t, s, kmip.V1_4), onKMS, kmip.KeyFormatTypeRaw)
	assert.Equal(t, kmsMaterial, got)
	_, err = s.stopCleanly()
	require.NoError(t, err)

	st, err := bbolt.Open(filepath.Join(dir, "data", "store.db"))
	require.NoError(t, err)
	defer st.Close()
	for tenant, want := range map[string]string{"default": "pkcs11", "cloud": "hpcs"} {
		ten, err := st.GetTenant(context.Background(), tenant)
		require.NoError(t, err)
		assert.Equal(t, want, ten.Backend, "tenant %s", tenant)
	}
}
