package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/ovh/kmip-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// auditCtl runs `kmipctl audit ARGS... --config DIR/config.yaml`
// and returns its output and error.
func auditCtl(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	argv := append(append([]string{"audit"}, args...), "--config", filepath.Join(dir, "config.yaml"))
	cmd := exec.Command(bin(t, "kmipctl"), argv...)
	cmd.Env = environ()
	out, err := runWithTimeout(cmd, cmdTimeout)
	return string(out), err
}

// auditRecord is a record of the log as `kmipctl audit show --json`
// prints it.
type auditRecord struct {
	Seq       uint64 `json:"seq"`
	Source    string `json:"source"`
	Tenant    string `json:"tenant"`
	Client    string `json:"client"`
	Remote    string `json:"remote"`
	Operation string `json:"operation"`
	UniqueID  string `json:"unique_id"`
	Result    string `json:"result"`
	Reason    string `json:"reason"`
}

func auditShow(t *testing.T, dir string, args ...string) []auditRecord {
	t.Helper()
	out, err := auditCtl(t, dir, append([]string{"show", "--json"}, args...)...)
	require.NoError(t, err, out)
	var recs []auditRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r auditRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		recs = append(recs, r)
	}
	return recs
}

// TestAuditLog runs a server from `kmipctl dev init` (which turns the
// audit log on), drives it with ovh/kmip-go (16 connections at once, so
// that records share commits) and PyKMIP, and checks the trail: one
// record per operation with tenant, client, identifier and result; no
// key material; `kmipctl audit verify` passes, and fails once a line is
// deleted or a field edited. A restart continues the chain, and a torn
// last line (a crash in a write) is set aside and acknowledged.
func TestAuditLog(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	logPath := filepath.Join(dir, "audit", "audit.log")
	s, err := startServer(bin(t, "kmip-adapter"), dir, nil)
	require.NoError(t, err)
	stopped := false
	defer func() {
		if !stopped {
			_, _, _ = s.stop(stopTimeout)
		}
	}()

	// Keys made and fetched by 16 concurrent ovh/kmip-go clients...
	const clients, each = 16, 4
	var mu sync.Mutex
	keys := map[string][]byte{}
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ovhDial(t, s, kmip.V1_4)
			for j := 0; j < each; j++ {
				id := ovhCreateAES(t, c, 256)
				_, m := ovhGetKey(t, c, id, kmip.KeyFormatTypeRaw)
				mu.Lock()
				keys[id] = m
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, keys, clients*each)
	// ...one by PyKMIP, and a Get of a key that does not exist.
	for _, k := range createWithPyKMIP(t, s, "1.2", 1, 256) {
		keys[k.UID] = k.material(t)
	}
	c := ovhDial(t, s, kmip.V1_4)
	_, err = c.Get("no-such-key").Exec()
	require.Error(t, err)

	out, err := auditCtl(t, dir, "verify")
	require.NoError(t, err, "verify of the live log:\n%s", out)
	assert.Contains(t, out, "the chain is intact")

	_, err = s.stopCleanly()
	require.NoError(t, err)
	stopped = true

	// The trail: every key's Create and Get, the failed Get, start and stop.
	recs := auditShow(t, dir)
	byKey := map[string][]string{}
	for _, r := range recs {
		if r.Source == "kmip" {
			assert.Equal(t, "default", r.Tenant, "%+v", r)
			assert.NotEmpty(t, r.Client, "%+v", r)
			assert.Contains(t, r.Remote, "127.0.0.1:", "%+v", r)
			byKey[r.UniqueID] = append(byKey[r.UniqueID], r.Operation+" "+r.Result)
		}
	}
	for id := range keys {
		assert.Subset(t, byKey[id], []string{"Create success", "Get success"}, "key %s", id)
	}
	assert.Equal(t, []string{"Get ItemNotFound"}, byKey["no-such-key"])
	assert.Equal(t, "audit.start", recs[0].Operation)
	assert.Equal(t, "audit.stop", recs[len(recs)-1].Operation)
	gets := auditShow(t, dir, "--operation", "get", "--tenant", "default")
	assert.GreaterOrEqual(t, len(gets), len(keys)+1)
	for _, r := range gets {
		assert.Equal(t, "Get", r.Operation)
	}

	raw, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assertNoMaterial(t, "the audit log", raw, keys)
	keyFile, err := os.ReadFile(logPath + ".key")
	require.NoError(t, err)
	assertNoMaterial(t, "the audit key file", keyFile, keys)

	out, err = auditCtl(t, dir, "verify")
	require.NoError(t, err, out)
	assert.Contains(t, out, fmt.Sprintf("records   %d checked", len(recs)))
	m := regexp.MustCompile(`(?m)^head      (\d+:[0-9a-f]{64})$`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	head := m[1]
	out, err = auditCtl(t, dir, "verify", "--head", head)
	require.NoError(t, err, out)

	// Tampered copies fail, naming the line.
	lines := bytes.SplitAfter(raw, []byte("\n"))
	target := 0
	for i, l := range lines {
		if bytes.Contains(l, []byte(`"operation":"Get"`)) {
			target = i
			break
		}
	}
	require.NotZero(t, target)
	tests := []struct {
		name     string
		tamper   func(lines [][]byte) [][]byte
		args     []string
		wantLine int
		want     string
	}{
		{"line deleted", func(l [][]byte) [][]byte { return append(l[:target:target], l[target+1:]...) }, nil,
			target + 1, fmt.Sprintf("record %d where %d was expected", target+2, target+1)},
		{"field edited", func(l [][]byte) [][]byte {
			l[target] = bytes.Replace(l[target], []byte(`"result":"success"`), []byte(`"result":"ItemNotFound"`), 1)
			return l
		}, nil, target + 1, "MAC does not match"},
		{"end cut off, against the noted head", func(l [][]byte) [][]byte { return l[:target] }, []string{"--head", head},
			target + 1, fmt.Sprintf("the log ends at record %d, but record %d was noted", target, len(recs))},
		// The head the server stored in its store when it stopped.
		{"end cut off, against the stored head", func(l [][]byte) [][]byte { return l[:target] }, nil,
			target + 1, fmt.Sprintf("the log ends at record %d, but record %d was noted", target, len(recs))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			copyPath := filepath.Join(t.TempDir(), "audit.log")
			cp := tt.tamper(append([][]byte(nil), lines...))
			require.NoError(t, os.WriteFile(copyPath, bytes.Join(cp, nil), 0o600))
			out, err := auditCtl(t, dir, append([]string{"verify", "--key-file", logPath + ".key", copyPath}, tt.args...)...)
			require.Error(t, err, "verify passed a tampered log:\n%s", out)
			assert.Contains(t, out, fmt.Sprintf("BROKEN    %s line %d", copyPath, tt.wantLine))
			assert.Contains(t, out, tt.want)
			assert.Contains(t, out, fmt.Sprintf("records   %d checked", target))
		})
	}

	// A crash in the middle of a write leaves a torn line: the next start
	// keeps it as segment 1 and acknowledges it; the chain goes on.
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"seq":999,"time":"2026-11-30T12:00:00Z","source":"kmip","tenant":"def`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	out, err = auditCtl(t, dir, "verify")
	require.Error(t, err, "a torn last line must fail verification:\n%s", out)
	assert.Contains(t, out, "torn")

	s, err = startServer(bin(t, "kmip-adapter"), dir, nil)
	require.NoError(t, err)
	c = ovhDial(t, s, kmip.V1_4)
	id := ovhCreateAES(t, c, 128)
	_, err = s.stopCleanly()
	require.NoError(t, err)
	out, err = auditCtl(t, dir, "verify")
	require.NoError(t, err, out)
	assert.Contains(t, out, "(2 segment(s))")
	after := auditShow(t, dir)
	require.Len(t, after, len(recs)+4) // recovered, start, Create, stop
	assert.Equal(t, "audit.recovered", after[len(recs)].Operation)
	assert.Equal(t, "audit.start", after[len(recs)+1].Operation)
	assert.Contains(t, after[len(recs)+1].Reason, fmt.Sprintf("after record %d", len(recs)))
	assert.Equal(t, id, after[len(recs)+2].UniqueID)
	_, err = os.Stat(logPath + ".000001")
	require.NoError(t, err, "the torn segment is kept")
}

// TestAuditFailsClosedOnFullDisk limits the size of the files the server
// may write (RLIMIT_FSIZE, as in TestStoreFull) to the audit log's size,
// its preallocated space included (a small audit.preallocate, so that it
// fills quickly): the Gets' records go into that space until it is full,
// the next chunk cannot be allocated (the server log says so), and then,
// with audit.required (the default), a Get whose record cannot be written
// answers General Failure and hands out no key; once the limit is lifted
// the same Get works, and the chain is intact (the partial writes were
// taken back).
func TestAuditFailsClosedOnFullDisk(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	logPath := filepath.Join(dir, "audit", "audit.log")
	const chunk = 64 << 10
	s, err := startServer(bin(t, "kmip-adapter"), dir, []string{fmt.Sprintf("KMIP_ADAPTER_AUDIT_PREALLOCATE=%d", chunk)})
	require.NoError(t, err)
	defer func() {
		select {
		case <-s.exited:
		default:
			_, _, _ = s.stop(stopTimeout)
		}
	}()
	c, err := dialKMIP(t, s)
	require.NoError(t, err)
	defer c.conn.Close()
	uid, err := c.create()
	require.NoError(t, err)
	want, err := c.material(uid)
	require.NoError(t, err)

	fi, err := os.Stat(logPath)
	require.NoError(t, err)
	require.Zero(t, fi.Size()%chunk, "the log is preallocated: %d bytes", fi.Size())
	pid := s.cmd.Process.Pid
	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: uint64(fi.Size()), Max: unix.RLIM_INFINITY}, nil), "prlimit")
	written := 0
	var f *kmipFailure
	for ; written < 2000; written++ {
		got, err := c.material(uid)
		if err != nil {
			require.ErrorAs(t, err, &f, "a Get without its audit record must fail, got material %x", got)
			break
		}
		assert.Equal(t, want, got)
	}
	require.NotNil(t, f, "Gets past the space the limit allows must fail")
	assert.Greater(t, written, 10, "the preallocated space took records")
	for range 3 {
		got, err := c.material(uid)
		require.ErrorAs(t, err, &f, "a Get without its audit record must fail, got material %x", got)
		assert.Equal(t, kmip14.ResultReasonGeneralFailure, f.reason)
		assert.Contains(t, f.message, "audit record could not be written")
	}
	assert.True(t, s.loggedSoon("audit record not written"), "the server log says why:\n%s", s.log.String())
	assert.True(t, s.logged("audit log space not preallocated"), "the full disk showed first as a failed allocation:\n%s", s.log.String())

	require.NoError(t, unix.Prlimit(pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}, nil))
	got, err := c.material(uid)
	require.NoError(t, err, "auditing resumes once the disk has room")
	assert.Equal(t, want, got)
	_, err = s.stopCleanly()
	require.NoError(t, err)

	out, err := auditCtl(t, dir, "verify")
	require.NoError(t, err, out)
	var gets []string
	for _, r := range auditShow(t, dir, "--operation", "Get") {
		gets = append(gets, r.UniqueID+" "+r.Result)
	}
	wantGets := []string{uid + " success"}
	for range written + 1 {
		wantGets = append(wantGets, uid+" success")
	}
	assert.Equal(t, wantGets, gets, "the refused Gets left no record, the others one each")
}

// TestAuditSurvivesKill kills the server (SIGKILL) while 8 clients create
// keys, twice, then checks that the log still verifies (a write cut by
// the kill is set aside and acknowledged at the next start) and that
// every Create a client was answered has its record: a record is on disk
// before the answer leaves.
func TestAuditSurvivesKill(t *testing.T) {
	requireSoftHSM(t)
	dir := filepath.Join(t.TempDir(), "dev")
	require.NoError(t, devInit(bin(t, "kmipctl"), dir))
	var mu sync.Mutex
	acked := map[string]bool{}
	for round := 1; round <= 2; round++ {
		s, err := startServer(bin(t, "kmip-adapter"), dir, nil)
		require.NoError(t, err)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := dialKMIP(t, s)
				if err != nil {
					return
				}
				defer c.conn.Close()
				for {
					select {
					case <-stop:
						return
					default:
					}
					uid, err := c.create()
					if err != nil {
						return // the kill
					}
					mu.Lock()
					acked[uid] = true
					mu.Unlock()
				}
			}()
		}
		time.Sleep(2*time.Second + time.Duration(round)*300*time.Millisecond)
		require.NoError(t, s.cmd.Process.Kill(), "kill -9")
		<-s.exited
		close(stop)
		wg.Wait()
	}
	s, err := startServer(bin(t, "kmip-adapter"), dir, nil)
	require.NoError(t, err)
	_, err = s.stopCleanly()
	require.NoError(t, err)

	out, err := auditCtl(t, dir, "verify")
	require.NoError(t, err, out)
	created := map[string]bool{}
	starts := 0
	for _, r := range auditShow(t, dir) {
		switch {
		case r.Operation == "Create" && r.Result == "success":
			created[r.UniqueID] = true
		case r.Operation == "audit.start":
			starts++
		}
	}
	assert.Equal(t, 3, starts)
	require.NotEmpty(t, acked)
	for uid := range acked {
		assert.True(t, created[uid], "Create of %s was answered but has no audit record", uid)
	}
	t.Logf("%d creates answered across 2 kills, %d Create records; %s", len(acked), len(created), strings.ReplaceAll(strings.TrimSpace(out), "\n", "; "))
}
