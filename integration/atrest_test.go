package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encodings returns the forms in which material could leak into a file
// or a log: raw bytes, hex (both cases) and base64 (standard and URL,
// padded or not).
func encodings(material []byte) map[string][]byte {
	h := hex.EncodeToString(material)
	return map[string][]byte{
		"raw":           material,
		"hex":           []byte(h),
		"HEX":           []byte(strings.ToUpper(h)),
		"base64":        []byte(base64.StdEncoding.EncodeToString(material)),
		"base64 (raw)":  []byte(base64.RawStdEncoding.EncodeToString(material)),
		"base64url":     []byte(base64.URLEncoding.EncodeToString(material)),
		"base64url raw": []byte(base64.RawURLEncoding.EncodeToString(material)),
	}
}

// assertNoMaterial fails for every key whose material appears in data in
// one of its encodings.
func assertNoMaterial(t *testing.T, what string, data []byte, keys map[string][]byte) {
	t.Helper()
	for uid, material := range keys {
		for name, enc := range encodings(material) {
			assert.False(t, bytes.Contains(data, enc), "%s holds the material of key %s (%s)", what, uid, name)
		}
	}
}

// TestNoPlaintextAtRest creates keys through both clients, gets their
// material back, and then looks for that material in the store file and
// in the server's debug log: it must be in neither (DESIGN 4: material is
// sealed under the tenant KEK in the HSM).
func TestNoPlaintextAtRest(t *testing.T) {
	s := mainServer(t)

	// Keys from both clients, kept (not destroyed) so that their sealed
	// records are in the store.
	mine := map[string][]byte{}
	c := ovhDial(t, s, kmip.V1_4)
	for _, bits := range []int{128, 256, 256} {
		id := ovhCreateAES(t, c, bits)
		_, m := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
		mine[id] = m
	}
	c20 := ovhDial(t, s, kmip.V2_0)
	id := ovhCreateAES(t, c20, 256)
	_, m := ovhGetKey(t, c20, id, kmip.KeyFormatTypeTransparentSymmetricKey)
	mine[id] = m
	if err := pykmipAvailable(); err == nil {
		for _, k := range createWithPyKMIP(t, s, "1.2", 2, 256) {
			mine[k.UID] = k.material(t)
		}
	} else {
		t.Logf("no PyKMIP keys: %v", err)
	}

	// The server keeps running: bbolt commits with write and fsync, so the
	// file holds every committed object while the server has it open.
	store, err := os.ReadFile(s.storePath())
	require.NoError(t, err)
	for uid := range mine {
		// The records are there (found by their identifier), sealed.
		require.True(t, bytes.Contains(store, []byte(uid)), "store %s does not mention key %s: is it the right file?", s.storePath(), uid)
	}
	all := recordedKeys() // also the keys other tests got (and destroyed)
	require.Subset(t, keysOf(all), keysOf(mine))
	t.Logf("looking for %d keys' material in %s (%d bytes) and in the server log", len(all), s.storePath(), len(store))
	assertNoMaterial(t, "the store file", store, all)

	log := []byte(s.log.String())
	require.True(t, s.logged(readyMessage))
	require.Contains(t, string(log), `"level":"debug"`, "the shared server must run at debug level for this check")
	assertNoMaterial(t, "the server log (debug level)", log, all)
}

func keysOf(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
