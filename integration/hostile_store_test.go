package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	gkmip "github.com/gemalto/kmip-go"
	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/kmip-adapter/kmip-adapter/backend"
	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/config"
	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/object"
	"github.com/kmip-adapter/kmip-adapter/store"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// Crash safety and store faults on the embedded store (bbolt): kill -9
// under load, and a file size limit standing in for a full disk. (The
// PostgreSQL store's crash test, postgres_crash_test.go, reuses the
// clients, the ledger and the object check.)

// startOnStore starts a server on the hostile development directory and
// the given store file, without stopping it at the end of the test: the
// caller kills or stops it. The process is killed at cleanup if still up.
func startOnStore(t *testing.T, storePath string, env ...string) *server {
	t.Helper()
	requireSoftHSM(t)
	adapter, ctl := bin(t, "kmip-adapter"), bin(t, "kmipctl")
	hostileDev.once.Do(func() {
		hostileDev.dir = filepath.Join(suite.tmp, "hostile")
		hostileDev.err = devInit(ctl, hostileDev.dir)
	})
	require.NoError(t, hostileDev.err)
	env = append([]string{
		"KMIP_ADAPTER_STORE_PATH=" + storePath,
		"KMIP_ADAPTER_SERVER_SHUTDOWN_TIMEOUT=5s",
	}, env...)
	s, err := startServer(adapter, hostileDev.dir, env)
	require.NoError(t, err)
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
	return s
}

// kmipConn is one raw KMIP 1.4 connection.
type kmipConn struct {
	s    *server
	conn interface {
		Write([]byte) (int, error)
		Read([]byte) (int, error)
		Close() error
	}
}

func dialKMIP(t *testing.T, s *server) (*kmipConn, error) {
	conn, err := dialTLS(s, s.clientTLS(t))
	if err != nil {
		return nil, err
	}
	return &kmipConn{s: s, conn: conn}, nil
}

// call sends one request and returns its first batch item, or an error
// when the connection fails (the server died) or the item failed.
func (c *kmipConn) call(req []byte) (gkmip.ResponseBatchItem, error) {
	tc := c.conn.(interface{ SetDeadline(time.Time) error })
	_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.conn.Write(req); err != nil {
		return gkmip.ResponseBatchItem{}, fmt.Errorf("connection: %w", err)
	}
	resp, err := readAny(c.conn, 4<<20)
	if err != nil {
		return gkmip.ResponseBatchItem{}, fmt.Errorf("connection: %w", err)
	}
	if len(resp.BatchItem) != 1 {
		return gkmip.ResponseBatchItem{}, fmt.Errorf("%d batch items", len(resp.BatchItem))
	}
	it := resp.BatchItem[0]
	if it.ResultStatus != kmip14.ResultStatusSuccess {
		return it, &kmipFailure{it.ResultReason, it.ResultMessage}
	}
	return it, nil
}

// kmipFailure is a failed batch item.
type kmipFailure struct {
	reason  kmip14.ResultReason
	message string
}

func (f *kmipFailure) Error() string { return fmt.Sprintf("%s: %s", f.reason, f.message) }

// payloadOf returns the raw response payload of an item.
func payloadOf(it gkmip.ResponseBatchItem) ttlv.TTLV {
	raw, _ := it.ResponsePayload.(ttlv.TTLV)
	return raw
}

// uidOf reads the Unique Identifier of a response payload.
func uidOf(it gkmip.ResponseBatchItem) string {
	var p struct{ UniqueIdentifier string }
	_ = ttlv.Unmarshal(payloadOf(it), &p)
	return p.UniqueIdentifier
}

// findValue returns the first item tagged tag in a payload.
func findValue(p ttlv.TTLV, tag ttlv.Tag) ttlv.TTLV {
	var found ttlv.TTLV
	walkTTLV(p, func(c ttlv.TTLV) {
		if found == nil && c.Tag() == tag {
			found = c
		}
	})
	return found
}

func (c *kmipConn) create() (string, error) {
	it, err := c.call(request14(batchItem(kmip14.OperationCreate, createAES14())))
	if err != nil {
		return "", err
	}
	return uidOf(it), nil
}

func (c *kmipConn) register(secret []byte) (string, error) {
	it, err := c.call(request14(batchItem(kmip14.OperationRegister,
		enumOf(kmip14.TagObjectType, uint32(kmip14.ObjectTypeSecretData)), structOf(kmip14.TagTemplateAttribute),
		structOf(kmip14.TagSecretData, enumOf(kmip14.TagSecretDataType, uint32(kmip14.SecretDataTypePassword)),
			structOf(kmip14.TagKeyBlock, enumOf(kmip14.TagKeyFormatType, uint32(kmip14.KeyFormatTypeOpaque)),
				structOf(kmip14.TagKeyValue, bytesOf(kmip14.TagKeyMaterial, secret)))))))
	if err != nil {
		return "", err
	}
	return uidOf(it), nil
}

func (c *kmipConn) material(uid string) ([]byte, error) {
	it, err := c.call(request14(batchItem(kmip14.OperationGet, textOf(kmip14.TagUniqueIdentifier, uid))))
	if err != nil {
		return nil, err
	}
	m := findValue(payloadOf(it), kmip14.TagKeyMaterial)
	if m == nil || m.Type() != ttlv.TypeByteString {
		return nil, errors.New("no Key Material in the Get answer")
	}
	return bytes.Clone(m.ValueByteString()), nil
}

func (c *kmipConn) setCounter(uid string, n int, first bool) error {
	a := attr14("x-crash-counter", textOf(kmip14.TagAttributeValue, fmt.Sprint(n)))
	op := kmip14.OperationModifyAttribute
	if first {
		op = kmip14.OperationAddAttribute
	}
	_, err := c.call(request14(batchItem(op, textOf(kmip14.TagUniqueIdentifier, uid), a)))
	return err
}

func (c *kmipConn) counter(uid string) (string, error) {
	it, err := c.call(request14(batchItem(kmip14.OperationGetAttributes, textOf(kmip14.TagUniqueIdentifier, uid),
		textOf(kmip14.TagAttributeName, "x-crash-counter"))))
	if err != nil {
		return "", err
	}
	v := findValue(payloadOf(it), kmip14.TagAttributeValue)
	if v == nil {
		return "", nil
	}
	return v.ValueTextString(), nil
}

// ledger is what clients were told: the objects that exist, the material
// each received, and the counter values acknowledged (and the one in
// flight when the server died, which may or may not have been stored).
type ledger struct {
	mu       sync.Mutex
	material map[string][]byte // uid -> material received or registered (nil: created, never fetched)
	secret   map[string]bool   // uid -> a registered Secret Data
	counter  map[string]int    // uid -> last acknowledged counter (0: none)
	inflight map[string]int    // uid -> counter being set when the connection broke
}

func newLedger() *ledger {
	return &ledger{material: map[string][]byte{}, secret: map[string]bool{}, counter: map[string]int{}, inflight: map[string]int{}}
}

// crashClient creates, registers, fetches and modifies objects until its
// connection breaks, recording what the server acknowledged.
func crashClient(t *testing.T, s *server, l *ledger, stop <-chan struct{}) {
	c, err := dialKMIP(t, s)
	if err != nil {
		return
	}
	defer c.conn.Close()
	var mine []string
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		switch i % 4 {
		case 0:
			uid, err := c.create()
			if err != nil {
				return
			}
			l.mu.Lock()
			l.material[uid] = nil
			l.mu.Unlock()
			m, err := c.material(uid)
			if err != nil {
				return
			}
			l.mu.Lock()
			l.material[uid] = m
			l.mu.Unlock()
			mine = append(mine, uid)
		case 1:
			secret := make([]byte, 32)
			_, _ = rand.Read(secret)
			uid, err := c.register(secret)
			if err != nil {
				return
			}
			l.mu.Lock()
			l.material[uid], l.secret[uid] = secret, true
			l.mu.Unlock()
		default:
			if len(mine) == 0 {
				continue
			}
			uid := mine[i%len(mine)]
			l.mu.Lock()
			next := l.counter[uid] + 1
			l.inflight[uid] = next
			l.mu.Unlock()
			if err := c.setCounter(uid, next, next == 1); err != nil {
				return
			}
			l.mu.Lock()
			l.counter[uid] = next
			delete(l.inflight, uid)
			l.mu.Unlock()
		}
	}
}

// verifyLedger checks, through the server, that every acknowledged object
// exists with the material its client received and an acknowledged (or
// the in-flight) counter value. It returns how many objects it checked.
func verifyLedger(t *testing.T, s *server, l *ledger) int {
	t.Helper()
	c, err := dialKMIP(t, s)
	require.NoError(t, err)
	defer c.conn.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for uid, want := range l.material {
		got, err := c.material(uid)
		if !assert.NoError(t, err, "object %s was acknowledged but is not there after the crash", uid) {
			continue
		}
		if want != nil {
			assert.Equal(t, want, got, "object %s: the material its client received", uid)
		}
		if n, ok := l.counter[uid]; ok || l.inflight[uid] != 0 {
			v, err := c.counter(uid)
			require.NoError(t, err)
			acked := fmt.Sprint(n)
			if n == 0 {
				acked = "" // the first change was in flight: no counter yet
			}
			ok := v == acked || (l.inflight[uid] != 0 && v == fmt.Sprint(l.inflight[uid]))
			assert.True(t, ok, "object %s: counter %q, acknowledged %d (in flight %d)", uid, v, n, l.inflight[uid])
		}
		// A value the client was told about and did not see is resolved
		// now: the next round starts from what the store holds.
		if in := l.inflight[uid]; in != 0 {
			if v, _ := c.counter(uid); v == fmt.Sprint(in) {
				l.counter[uid] = in
			}
			delete(l.inflight, uid)
		}
	}
	return len(l.material)
}

// checkStore opens the store file itself (the server stopped) and checks
// it as a whole: bbolt's consistency check, then every object of every
// tenant decodes, holds its attributes, and its sealed material opens in
// the HSM under its binding; the material of every object in the ledger
// is what its client received. It returns how many objects it opened, and
// how many of them no client saw acknowledged.
func checkStore(t *testing.T, storePath string, l *ledger) (opened, unacknowledged int) {
	t.Helper()
	db, err := bolt.Open(storePath, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	require.NoError(t, err)
	err = db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			t.Errorf("bbolt consistency check: %v", e)
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	st, err := bbolt.Open(storePath)
	require.NoError(t, err)
	defer st.Close()
	return checkObjects(t, st, hostileDev.dir, l)
}

// checkObjects is checkStore's object by object part, on any store:
// every object of tenant "default" decodes and its sealed material opens
// in the HSM of the development directory devDir; every object of the
// ledger is there with the material its client received.
func checkObjects(t *testing.T, st store.Store, devDir string, l *ledger) (opened, unacknowledged int) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default().Backend.PKCS11
	cfg.Module = softHSMModule
	cfg.TokenLabel = "kmip-adapter-dev"
	cfg.PIN = config.Secret{File: filepath.Join(devDir, "softhsm", "user.pin")}
	cfg.SoftHSM2Conf = filepath.Join(devDir, "softhsm", "softhsm2.conf")
	hsm, err := pkcs11.Open(ctx, cfg)
	require.NoError(t, err, "open the development token")
	defer hsm.Close()

	tenant, err := st.GetTenant(ctx, "default")
	require.NoError(t, err)
	objs, err := st.ListObjects(ctx, store.ListQuery{TenantID: "default"})
	require.NoError(t, err)
	var extra []string
	for _, o := range objs {
		attrs, err := attr.Unmarshal(o.Attributes)
		if !assert.NoError(t, err, "object %s: attributes", o.ID) {
			continue
		}
		if id, ok := attrs.Get(attr.UniqueIdentifier); assert.True(t, ok, "object %s: no Unique Identifier", o.ID) {
			v, _ := id.Text()
			assert.Equal(t, o.ID, v, "object %s: its Unique Identifier attribute", o.ID)
		}
		if !assert.NotEmpty(t, o.Material, "object %s: stored without its sealed material", o.ID) {
			continue
		}
		var alg uint32
		var length int32
		if a, ok := attrs.Get(attr.CryptographicAlgorithm); ok {
			alg, _ = a.Enum()
		}
		if a, ok := attrs.Get(attr.CryptographicLength); ok {
			length, _ = a.Int()
		}
		plain, err := hsm.Open(ctx, backend.OpenRequest{
			Key:            backend.TenantKey{TenantID: tenant.ID, Blob: tenant.KeyBlob},
			Ciphertext:     o.Material,
			AdditionalData: object.AdditionalData(o.TenantID, o.ID, o.ObjectType, alg, length),
		})
		if !assert.NoError(t, err, "object %s: its sealed material does not open", o.ID) {
			continue
		}
		opened++
		if l == nil {
			continue
		}
		l.mu.Lock()
		want, listed := l.material[o.ID]
		secret := l.secret[o.ID]
		l.mu.Unlock()
		if !listed {
			extra = append(extra, o.ID)
		}
		switch {
		case !listed || want == nil:
		case secret: // a sealed header (16 bytes) precedes registered material
			assert.True(t, bytes.HasSuffix(plain, want), "object %s: sealed material differs from what was registered", o.ID)
		default:
			assert.Equal(t, want, plain, "object %s: sealed material differs from what its client received", o.ID)
		}
	}
	l.mu.Lock()
	for uid := range l.material {
		found := false
		for _, o := range objs {
			found = found || o.ID == uid
		}
		assert.True(t, found, "acknowledged object %s is not in the store", uid)
	}
	l.mu.Unlock()
	if len(extra) > 0 {
		t.Logf("%d objects stored whose creation no client saw acknowledged: %v", len(extra), extra)
	}
	return opened, len(extra)
}

// crashRounds is how many times TestCrashSafety kills the server
// (KMIP_CRASH_ROUNDS for a longer run).
func crashRounds() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("KMIP_CRASH_ROUNDS"), &n); err == nil && n > 0 {
		return n
	}
	return 3
}

// TestCrashSafety kills the server with SIGKILL while 16 clients create,
// register, fetch and modify objects, restarts it on the same store, and
// checks that every object a client was told exists is there with the
// material that client received, and every acknowledged change stands;
// round after round. At the end the store itself is checked object by
// object (checkStore).
func TestCrashSafety(t *testing.T) {
	const clients = 16
	storePath := filepath.Join(t.TempDir(), "store.db")
	l := newLedger()
	rounds := crashRounds()
	checked := 0
	for round := 1; round <= rounds; round++ {
		s := startOnStore(t, storePath)
		if round > 1 {
			checked += verifyLedger(t, s, l)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() { defer wg.Done(); crashClient(t, s, l, stop) }()
		}
		time.Sleep(2*time.Second + time.Duration(round%3)*700*time.Millisecond)
		require.NoError(t, s.cmd.Process.Kill(), "kill -9")
		<-s.exited
		close(stop)
		wg.Wait()
		l.mu.Lock()
		t.Logf("round %d: killed under load; %d objects acknowledged so far, %d counter changes in flight", round, len(l.material), len(l.inflight))
		l.mu.Unlock()
	}
	s := startOnStore(t, storePath)
	checked += verifyLedger(t, s, l)
	_, err := s.stopCleanly()
	require.NoError(t, err)
	opened, inFlight := checkStore(t, storePath, l)
	t.Logf("%d kills; %d object checks through the server after restarts; store check: %d objects opened, %d acknowledged, %d created while the server was killed",
		rounds, checked, opened, len(l.material), inFlight)
}

// TestStoreFull limits the size of the files the server may write (RLIMIT_FSIZE
// on the running process, as root: no loop device or tmpfs mount is
// available here) to the store file's size, so that the store cannot grow:
// the disk is full as far as bbolt can tell. Creates then fail with a KMIP
// error, the server neither crashes nor stops serving reads, and once the
// limit is lifted it creates again; the store stays consistent and keeps
// every acknowledged object.
func TestStoreFull(t *testing.T) {
	storePath := filepath.Join(t.TempDir(), "store.db")
	// The limit holds for the audit log too, which with audit.required
	// fails every operation on a full disk (TestAuditFailsClosedOnFullDisk):
	// here only the store is under test.
	s := startOnStore(t, storePath, "KMIP_ADAPTER_AUDIT_REQUIRED=false")
	l := newLedger()
	c, err := dialKMIP(t, s)
	require.NoError(t, err)
	defer c.conn.Close()
	for range 3 {
		uid, err := c.create()
		require.NoError(t, err)
		m, err := c.material(uid)
		require.NoError(t, err)
		l.material[uid] = m
	}

	fi, err := os.Stat(storePath)
	require.NoError(t, err)
	limit := uint64(fi.Size())
	pid := s.cmd.Process.Pid
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: limit, Max: unix.RLIM_INFINITY}, nil), "prlimit")
	t.Logf("store file %d bytes; RLIMIT_FSIZE set to that", limit)

	var failures []*kmipFailure
	acked := 0
	for i := 0; i < 2000 && len(failures) < 20; i++ {
		uid, err := c.create()
		var f *kmipFailure
		switch {
		case err == nil:
			acked++
			l.material[uid] = nil
		case errors.As(err, &f):
			failures = append(failures, f)
		default:
			t.Fatalf("create %d with the disk full: %v (the server must answer, not crash); its output:\n%s", i, err, s.log.String())
		}
	}
	require.NotEmpty(t, failures, "no create failed with the store unable to grow")
	for _, f := range failures {
		assert.Equal(t, kmip14.ResultReasonGeneralFailure, f.reason, "a store write error is the server's failure")
		assert.Contains(t, f.message, "error id", "the client gets an id to quote, not the server's internals")
	}
	t.Logf("disk full: %d creates succeeded in the space left, then %d failed: %s %q", acked, len(failures), failures[0].reason, failures[0].message)

	// Reads go on; the server is alive. (A key's first Get is a write,
	// Fresh cleared durably before the key is answered: whether that fits
	// in the full file depends on its free pages, so the keys created in
	// the space left are read once it has room again.)
	for uid, want := range l.material {
		if want == nil {
			continue
		}
		got, err := c.material(uid)
		require.NoError(t, err, "Get with the disk full")
		assert.Equal(t, want, got)
	}

	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}, nil))
	for uid, want := range l.material {
		if want == nil {
			_, err := c.material(uid)
			require.NoError(t, err, "first Get once the disk has room again")
		}
	}
	uid, err := c.create()
	require.NoError(t, err, "create once the disk has room again")
	l.material[uid] = nil
	m, err := c.material(uid)
	require.NoError(t, err)
	assert.Len(t, m, 32)
	assert.Less(t, s.rss(t), int64(hostileRSSLimit))

	_, err = s.stopCleanly()
	require.NoError(t, err)
	opened, unacknowledged := checkStore(t, storePath, l)
	assert.Zero(t, unacknowledged, "objects stored by creates that answered a failure")
	t.Logf("after the disk-full episode the store holds %d objects, all open; %d acknowledged", opened, len(l.material))
}
