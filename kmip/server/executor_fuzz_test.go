package server_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/kmip20"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/internal/fuzzseed"
	"github.com/kmip-adapter/kmip-adapter/kmip/kmiptest"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
	"github.com/kmip-adapter/kmip-adapter/kmip/ops"
	"github.com/kmip-adapter/kmip-adapter/kmip/server"
	"github.com/kmip-adapter/kmip-adapter/kmip/wire"
	"github.com/kmip-adapter/kmip-adapter/store/bbolt"
)

// The fuzz targets of the whole request path as the listener runs it:
// well-formedness, header, batch, every operation on a real store and a
// software root of trust (kmiptest.SoftBackend). Whatever comes in, the
// executor must not panic and must answer a KMIP Response Message that
// decodes, whose batch count matches its items.
//
// A panic inside an operation is recovered by the executor (a General
// Failure); the fuzz targets count those and, with KMIP_FUZZ_STRICT=1,
// fail on them, to find the operations' bugs.

// panicWatch counts the "operation panicked" lines of the executor's log.
type panicWatch struct {
	n    atomic.Int64
	last atomic.Value // []byte: the last such line
}

func (w *panicWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("panicked")) {
		w.n.Add(1)
		w.last.Store(append([]byte(nil), p...))
	}
	return len(p), nil
}

// fuzzExecutor is kmiptest.NewExecutor with the store in memory-backed
// /dev/shm when there is one (fsync is then free, so the fuzzer runs at
// the speed of the code) and the log watched instead of sent to tb: a
// fuzz function may not log through the *testing.F.
func fuzzExecutor(f *testing.F) (*server.Executor, *panicWatch) {
	dir := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "kmip-fuzz-")
		if err == nil {
			dir = d
			f.Cleanup(func() { _ = os.RemoveAll(d) })
		}
	}
	if dir == "" {
		dir = f.TempDir()
	}
	st, err := bbolt.Open(filepath.Join(dir, "store.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	w := &panicWatch{}
	log := zerolog.New(w).Level(zerolog.ErrorLevel)
	svc := ops.New(ops.Deps{Store: st, Backend: kmiptest.NewSoftBackend(), BackendType: "soft", Log: log})
	return &server.Executor{Ops: svc, Log: log}, w
}

// fuzzResponse is a Response Message as a client decodes it.
type fuzzResponse struct {
	TTLVTag        struct{} `ttlv:"ResponseMessage"`
	ResponseHeader struct {
		ProtocolVersion message.Version
		BatchCount      int32
	}
	BatchItem []struct {
		Operation         uint32 `ttlv:",enum"`
		UniqueBatchItemID []byte
		ResultStatus      kmip14.ResultStatus
		ResultReason      uint32 `ttlv:",enum"`
		ResultMessage     string
		ResponsePayload   ttlv.TTLV
	}
}

// checkAnswer fails t unless out is a well-formed, decodable Response
// Message whose batch count matches its items.
func checkAnswer(t *testing.T, out []byte, w *panicWatch, panicsBefore int64) {
	t.Helper()
	if len(out) == 0 {
		t.Fatal("no answer")
	}
	if err := wire.Check(out); err != nil {
		t.Fatalf("answer is malformed TTLV: %v", err)
	}
	var r fuzzResponse
	if err := ttlv.Unmarshal(out, &r); err != nil {
		t.Fatalf("answer does not decode: %v\n%s", err, ttlv.TTLV(out))
	}
	if int(r.ResponseHeader.BatchCount) != len(r.BatchItem) || len(r.BatchItem) == 0 {
		t.Fatalf("batch count %d, %d items", r.ResponseHeader.BatchCount, len(r.BatchItem))
	}
	for _, it := range r.BatchItem {
		switch it.ResultStatus {
		case kmip14.ResultStatusSuccess, kmip14.ResultStatusOperationUndone:
		case kmip14.ResultStatusOperationFailed:
			if it.ResultReason == 0 {
				t.Fatal("a failed item without a Result Reason")
			}
		default:
			t.Fatalf("result status %v", it.ResultStatus)
		}
	}
	if os.Getenv("KMIP_FUZZ_STRICT") == "1" && w.n.Load() > panicsBefore {
		line, _ := w.last.Load().([]byte)
		t.Fatalf("an operation panicked (recovered as General Failure): %s", line)
	}
}

// FuzzExecutor runs whole request messages: one message per OASIS vector
// file with all its batch items, some of the vectors' requests as they
// are, and mutations. Samples of both: every seed costs tens of
// milliseconds (RSA key pairs, sealing, the store), and `go test` runs
// them all.
func FuzzExecutor(f *testing.F) {
	x, w := fuzzExecutor(f)
	c := fuzzseed.Load(f)
	for _, m := range fuzzseed.PickAtMost(c.Requests, 60) {
		f.Add(m)
	}
	for _, m := range fuzzseed.PickAtMost(c.Batches, 120) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := w.n.Load()
		out := x.ExecuteFor(context.Background(), ops.Client{Tenant: kmiptest.Tenant}, data)
		checkAnswer(t, out, w, before)
	})
}

// FuzzExecutorItem runs one batch item of any operation with a fuzzed
// payload inside a well-formed request of a fuzzed version: the fuzzer
// spends its time in the operations instead of in the outer lengths.
func FuzzExecutorItem(f *testing.F) {
	x, w := fuzzExecutor(f)
	c := fuzzseed.Load(f)
	for _, p := range fuzzseed.Pick(c.Payloads) {
		f.Add(p.Major, p.Minor, p.Operation, false, p.TTLV)
	}
	f.Add(int32(1), int32(4), uint32(kmip14.OperationCreate), true, []byte(nil))
	f.Fuzz(func(t *testing.T, major, minor int32, op uint32, vsphere bool, payload []byte) {
		if len(payload) > 0 && wire.Check(payload) != nil {
			return
		}
		item := struct {
			Operation      uint32 `ttlv:",enum"`
			RequestPayload ttlv.TTLV
		}{op, payload}
		msg, err := ttlv.Marshal(struct {
			TTLVTag       struct{} `ttlv:"RequestMessage"`
			RequestHeader struct {
				ProtocolVersion message.Version
				BatchCount      int32
			}
			BatchItem []any
		}{RequestHeader: struct {
			ProtocolVersion message.Version
			BatchCount      int32
		}{message.Version{Major: major, Minor: minor}, 1}, BatchItem: []any{item}})
		if err != nil {
			return // the codec cannot encode it: nothing a client sends
		}
		before := w.n.Load()
		client := ops.Client{Tenant: kmiptest.Tenant, Policy: ops.Policy{ActivateOnCreate: vsphere}}
		out := x.ExecuteFor(context.Background(), client, msg)
		checkAnswer(t, out, w, before)
	})
}

// TestUnknownBatchErrorContinuationOption is the regression test of a
// hostile-input finding: an option other than Continue, Stop or Undo ran
// the batch as Stop. It is refused now, before any item runs.
func TestUnknownBatchErrorContinuationOption(t *testing.T) {
	x := kmiptest.NewExecutor(t)
	for _, v := range []message.Version{message.V1_4, message.V2_1} {
		msg := kmiptest.RequestWith(t, kmiptest.Header{ProtocolVersion: v, BatchErrorContinuationOption: 99},
			kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(v, 256)})
		r, _ := kmiptest.Execute(t, x, msg)
		require.Len(t, r.BatchItem, 1)
		assert.Equal(t, kmip14.ResultStatusOperationFailed, r.BatchItem[0].ResultStatus)
		assert.Equal(t, kmip20.ResultReasonInvalidField, r.BatchItem[0].ResultReason, r.BatchItem[0].ResultMessage)
	}
	for _, o := range []uint32{message.BatchErrorContinue, message.BatchErrorStop, message.BatchErrorUndo} {
		msg := kmiptest.RequestWith(t, kmiptest.Header{ProtocolVersion: message.V1_4, BatchErrorContinuationOption: o},
			kmiptest.Item{Operation: kmip20.OperationCreate, RequestPayload: kmiptest.CreateAES(message.V1_4, 256)})
		r, _ := kmiptest.Execute(t, x, msg)
		require.Len(t, r.BatchItem, 1)
		assert.Equal(t, kmip14.ResultStatusSuccess, r.BatchItem[0].ResultStatus, "option %d: %s", o, r.BatchItem[0].ResultMessage)
	}
}
