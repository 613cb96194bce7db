package conformance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeServer is a tiny KMIP server for the runner's tests: Create makes
// an object, Locate finds the newest, Destroy removes one; anything else
// is not supported.
type fakeServer struct {
	next      int
	objects   []string
	destroyed []string
	sessions  int
	// refuse makes Connect fail.
	refuse bool
}

func (s *fakeServer) connect() (Session, error) {
	if s.refuse {
		return nil, errors.New("connection refused")
	}
	s.sessions++
	return fakeSession{s}, nil
}

type fakeSession struct{ s *fakeServer }

func (f fakeSession) Close() error { return nil }

func (f fakeSession) RoundTrip(data []byte) ([]byte, error) {
	req, err := Decode(data)
	if err != nil {
		return nil, err
	}
	pv := req.Child(kmip14.TagRequestHeader).Child(kmip14.TagProtocolVersion)
	header := leaf(kmip14.TagResponseHeader, ttlv.TypeStructure, nil)
	header.Children = []*Node{pv, leaf(kmip14.TagTimeStamp, ttlv.TypeDateTime, time.Now()), leaf(kmip14.TagBatchCount, ttlv.TypeInteger, int32(1))}
	resp := leaf(kmip14.TagResponseMessage, ttlv.TypeStructure, nil)
	resp.Children = []*Node{header}
	for _, item := range req.ChildrenOf(kmip14.TagBatchItem) {
		op := item.Child(kmip14.TagOperation)
		out := leaf(kmip14.TagBatchItem, ttlv.TypeStructure, nil)
		payload := leaf(kmip14.TagResponsePayload, ttlv.TypeStructure, nil)
		status := kmip14.ResultStatusSuccess
		id := func(v string) *Node { return leaf(kmip14.TagUniqueIdentifier, ttlv.TypeTextString, v) }
		switch kmip14.Operation(op.Value.(uint32)) {
		case kmip14.OperationCreate:
			f.s.next++
			v := fmt.Sprintf("id-%d", f.s.next)
			f.s.objects = append(f.s.objects, v)
			payload.Children = []*Node{leaf(kmip14.TagObjectType, ttlv.TypeEnumeration, uint32(kmip14.ObjectTypeSymmetricKey)), id(v)}
		case kmip14.OperationLocate:
			if n := len(f.s.objects); n > 0 {
				payload.Children = []*Node{id(f.s.objects[n-1])}
			}
		case kmip14.OperationDestroy:
			v := item.Child(kmip14.TagRequestPayload).Child(kmip14.TagUniqueIdentifier).Value.(string)
			status = kmip14.ResultStatusOperationFailed
			for i, o := range f.s.objects {
				if o == v {
					f.s.objects = append(f.s.objects[:i], f.s.objects[i+1:]...)
					f.s.destroyed = append(f.s.destroyed, v)
					status = kmip14.ResultStatusSuccess
					payload.Children = []*Node{id(v)}
				}
			}
		default:
			status = kmip14.ResultStatusOperationFailed
		}
		out.Children = []*Node{op, leaf(kmip14.TagResultStatus, ttlv.TypeEnumeration, uint32(status))}
		if status == kmip14.ResultStatusSuccess {
			out.Children = append(out.Children, payload)
		} else {
			out.Children = append(out.Children,
				leaf(kmip14.TagResultReason, ttlv.TypeEnumeration, uint32(kmip14.ResultReasonOperationNotSupported)),
				leaf(kmip14.TagResultMessage, ttlv.TypeTextString, "no"))
		}
		resp.Children = append(resp.Children, out)
	}
	return Encode(resp)
}

// vector writes a vector file of exchanges (request item, response
// item) under root.
func vector(t *testing.T, root, rel string, exchanges ...[2]string) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("<KMIP>\n")
	for _, ex := range exchanges {
		sb.WriteString(`<RequestMessage>` + header14 + ex[0] + `</RequestMessage>` + "\n")
		sb.WriteString(message("$NOW", ex[1]) + "\n")
	}
	sb.WriteString("</KMIP>\n")
	path := filepath.Join(root, rel)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(sb.String()), 0o600))
}

func requestItem(op string, payload ...string) string {
	return `<BatchItem><Operation type="Enumeration" value="` + op + `"/><RequestPayload>` + strings.Join(payload, "") + `</RequestPayload></BatchItem>`
}

func TestRun(t *testing.T) {
	root := t.TempDir()
	objectType := `<ObjectType type="Enumeration" value="SymmetricKey"/>`
	create := [2]string{requestItem("Create", objectType), item("Create", "Success", payload(objectType, uid("$UNIQUE_IDENTIFIER_0")))}
	// SKLC-M-1 creates a key and leaves it: the cleanup destroys it.
	vector(t, root, "v1.4/XML/mandatory/SKLC-M-1-14.xml", create)
	// SKLC-M-2 expects what the server does not do.
	vector(t, root, "v1.4/XML/mandatory/SKLC-M-2-14.xml",
		[2]string{requestItem("Query"), item("Query", "Success", payload())})
	// TL-M-2 creates, TL-M-3 finds it (under its own numbering) and
	// destroys it: they run in order, on shared bindings.
	vector(t, root, "v1.4/XML/mandatory/TL-M-3-14.xml",
		[2]string{requestItem("Locate"), item("Locate", "Success", payload(uid("$UNIQUE_IDENTIFIER_0")))},
		[2]string{requestItem("Destroy", uid("$UNIQUE_IDENTIFIER_0")), item("Destroy", "Success", payload(uid("$UNIQUE_IDENTIFIER_0")))})
	vector(t, root, "v1.4/XML/mandatory/TL-M-2-14.xml", create,
		[2]string{requestItem("Create", objectType), item("Create", "Success", payload(objectType, uid("$UNIQUE_IDENTIFIER_1")))})
	// A placeholder that no response binds.
	vector(t, root, "v1.4/XML/mandatory/OMOS-M-1-14.xml",
		[2]string{requestItem("Destroy", uid("$UNIQUE_IDENTIFIER_4")), item("Destroy", "Success", payload())})
	// Not claimed: listed, never read (not even valid XML).
	for _, rel := range []string{"v1.4/XML/mandatory/SUITEB_128-M-1-14.xml", "v1.4/XML/optional/SKLC-O-1-14.xml"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, rel)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, rel), []byte("not xml"), 0o600))
	}

	files, err := Discover(root)
	require.NoError(t, err)
	srv := &fakeServer{}
	var lines []string
	report := Run(files, Options{Connect: srv.connect, Logf: func(format string, args ...any) {
		lines = append(lines, fmt.Sprintf(format, args...))
	}})

	assert.Equal(t, []string{"SKLC-M-1-14", "TL-M-2-14", "TL-M-3-14"}, report.Passed())
	var failed []string
	for _, r := range report.Failed() {
		failed = append(failed, r.String())
	}
	require.Len(t, failed, 2)
	assert.Contains(t, failed[0], "OMOS-M-1-14")
	assert.Contains(t, failed[0], "FAIL request 1/1 (Destroy): line")
	assert.Contains(t, failed[0], "placeholder $UNIQUE_IDENTIFIER_4")
	assert.Equal(t, `SKLC-M-2-14              FAIL request 1/1 (Query): BatchItem[0]/ResultStatus: want Success, got OperationFailed OperationNotSupported "no"`, failed[1])
	assert.Len(t, lines, 5, "one line per file run")

	r, ok := report.Result("SUITEB_128-M-1-14")
	require.True(t, ok)
	assert.False(t, r.Run)
	assert.Equal(t, "SUITEB_128-M-1-14        not claimed", r.String())

	// TL-M-3 found id-3, the last one TL-M-2 created, and destroyed it;
	// the cleanups destroyed the rest.
	assert.Equal(t, []string{"id-1", "id-3", "id-2"}, srv.destroyed)
	assert.Empty(t, srv.objects, "nothing left on the server")

	summary := report.Summary()
	for _, want := range []string{
		"1.4 OMOS     0 passed,   1 failed\n",
		"1.4 SKLC     1 passed,   1 failed\n",
		"1.4 TL       2 passed,   0 failed\n",
		"1.4 all      3 passed,   2 failed\n",
		"not claimed (listed, not run): 2 files: SKLC (optional) 1, SUITEB 1\n",
		"total: 3 passed, 2 failed (5 claimed files in ",
	} {
		assert.Contains(t, summary, want)
	}
}

func TestRunWithoutServer(t *testing.T) {
	root := t.TempDir()
	vector(t, root, "v1.4/XML/mandatory/SKLC-M-1-14.xml", [2]string{requestItem("Query"), item("Query", "Success", payload())})
	files, err := Discover(root)
	require.NoError(t, err)
	report := Run(files, Options{Connect: (&fakeServer{refuse: true}).connect})
	require.Len(t, report.Failed(), 1)
	assert.Contains(t, report.Failed()[0].Err.Error(), "connect: connection refused")
}

func TestPassingList(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, WriteList(&buf, []string{"SKLC-M-1-14", "TL-M-2-20"}))
	assert.True(t, strings.HasPrefix(buf.String(), "# "))
	names, err := ReadList(strings.NewReader(buf.String() + "\n  BL-M-2-21  \n"))
	require.NoError(t, err)
	assert.Equal(t, []string{"SKLC-M-1-14", "TL-M-2-20", "BL-M-2-21"}, names)
}

func TestRunKeepGoing(t *testing.T) {
	root := t.TempDir()
	objectType := `<ObjectType type="Enumeration" value="SymmetricKey"/>`
	vector(t, root, "v1.4/XML/mandatory/SKLC-M-2-14.xml",
		[2]string{requestItem("Query"), item("Query", "Success", payload())},
		[2]string{requestItem("Create", objectType), item("Create", "Success", payload(objectType, uid("$UNIQUE_IDENTIFIER_0")))},
		[2]string{requestItem("Check", uid("$UNIQUE_IDENTIFIER_0")), item("Check", "Success", payload(uid("$UNIQUE_IDENTIFIER_0")))},
		[2]string{requestItem("Destroy", uid("$UNIQUE_IDENTIFIER_9")), item("Destroy", "Success", payload())})
	files, err := Discover(root)
	require.NoError(t, err)

	for _, keepGoing := range []bool{false, true} {
		report := Run(files, Options{Connect: (&fakeServer{}).connect, KeepGoing: keepGoing})
		require.Len(t, report.Failed(), 1)
		r := report.Failed()[0]
		assert.Equal(t, 0, r.Step, "the first difference fails the file")
		assert.Equal(t, "Query", r.Operations)
		if !keepGoing {
			assert.Empty(t, r.Later)
			continue
		}
		require.Len(t, r.Later, 2, "%v", r.Later)
		assert.Contains(t, r.Later[0], `request 3/4 (Check): BatchItem[0]/ResultStatus: want Success, got OperationFailed`)
		assert.Contains(t, r.Later[1], `request 4/4 (Destroy): line`)
		assert.Contains(t, r.String(), "\n                         then request 3/4 (Check)")
	}
}
