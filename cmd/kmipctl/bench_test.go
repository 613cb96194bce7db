package main

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gemalto/kmip-go/kmip14"
	"github.com/gemalto/kmip-go/ttlv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmip-adapter/kmip-adapter/kmip/attr"
	"github.com/kmip-adapter/kmip-adapter/kmip/message"
)

func TestPercentiles(t *testing.T) {
	var ns []int64
	for i := 1; i <= 100; i++ {
		ns = append(ns, int64(i)*int64(time.Millisecond))
	}
	p := percentiles(ns)
	assert.Equal(t, latencyMS{P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}, p)
	assert.Equal(t, latencyMS{}, percentiles(nil))
	one := percentiles([]int64{int64(2 * time.Millisecond)})
	assert.Equal(t, 2.0, one.P50)
	assert.Equal(t, 2.0, one.P99)
}

func TestExpandWorkloads(t *testing.T) {
	got, err := expandWorkloads([]string{"get", " create"})
	require.NoError(t, err)
	assert.Equal(t, []string{"get", "create"}, got)
	got, err = expandWorkloads([]string{"all"})
	require.NoError(t, err)
	assert.Equal(t, workloadOrder, got)
	_, err = expandWorkloads([]string{"gets"})
	assert.ErrorContains(t, err, `unknown workload "gets"`)
	for _, n := range workloadOrder {
		w := workloads[n]
		require.NotNil(t, w, n)
		assert.Equal(t, n, w.name)
		assert.NotEmpty(t, w.description)
		assert.Positive(t, w.messages)
		assert.Contains(t, workloadHSMCost, n, "the report knows what %s costs in the HSM", n)
	}
}

func TestKMIPVersionFlag(t *testing.T) {
	v, err := kmipVersion("2.1")
	require.NoError(t, err)
	assert.Equal(t, message.V2_1, v)
	for _, bad := range []string{"1", "x.y", "3.0", "1.5"} {
		_, err := kmipVersion(bad)
		assert.Error(t, err, bad)
	}
}

func TestTargetNeedsCertificates(t *testing.T) {
	tg := target{addr: "127.0.0.1:5696"}
	assert.ErrorContains(t, tg.resolve(), "--ca, --cert and --key")
	tg = target{ca: "a", cert: "b", key: "c"}
	require.NoError(t, tg.resolve())
	assert.Equal(t, "127.0.0.1:5696", tg.addr, "the IANA port on loopback by default")
}

func TestParseAttr(t *testing.T) {
	cases := []struct {
		in       string
		name     string
		typ      ttlv.Type
		rendered string
	}{
		{"x-Owner=ops team", "x-Owner", ttlv.TypeTextString, "ops team"},
		{"Object Group=array1", "Object Group", ttlv.TypeTextString, "array1"},
		{"Cryptographic Usage Mask=Encrypt|Decrypt", "Cryptographic Usage Mask", ttlv.TypeInteger, "Encrypt|Decrypt"},
		{"Cryptographic Algorithm=AES", "Cryptographic Algorithm", ttlv.TypeEnumeration, "AES"},
		{"Name=my key", "Name", ttlv.TypeStructure, "{NameValue: my key, NameType: UninterpretedTextString}"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			list, err := parseAttrs([]string{c.in}, "")
			require.NoError(t, err)
			require.Len(t, list, 1)
			assert.Equal(t, c.name, list[0].Name)
			assert.Equal(t, c.typ, list[0].Value.Type())
			assert.Equal(t, c.rendered, newAttrsOut(list)[0].Value)
		})
	}
	_, err := parseAttrs([]string{"novalue"}, "")
	assert.ErrorContains(t, err, "NAME=VALUE")
	_, err = parseAttrs([]string{"Nonsense=1"}, "")
	assert.ErrorContains(t, err, "unknown attribute")
	_, err = parseAttrs([]string{"Cryptographic Algorithm=NOPE"}, "")
	assert.Error(t, err)
}

func TestFormatItem(t *testing.T) {
	assert.Equal(t, "PreActive", formatItem(attr.Retag(attr.Enum(uint32(kmip14.StatePreActive)), kmip14.TagState)))
	assert.Equal(t, "00ff", formatItem(attr.Bytes([]byte{0, 255})))
	assert.Equal(t, "2024-03-05T10:21:33Z", formatItem(attr.Date(time.Date(2024, 3, 5, 10, 21, 33, 0, time.UTC))))
	assert.Equal(t, "true", formatItem(attr.Bool(true)))
}

func TestReportComparesAndDraws(t *testing.T) {
	adapter := benchReport{Target: "a", TLS: "TLS 1.3", Results: []benchResult{
		{Workload: "get", Conns: 16, Ops: 1000, OpsPerSec: 5000, Latency: latencyMS{P50: 2, P99: 6}},
		{Workload: "locate", Conns: 16, Ops: 100, OpsPerSec: 800, Latency: latencyMS{P50: 1, P99: 3}},
		{Workload: "vcenter", Conns: 1, Ops: 10, OpsPerSec: 50, Latency: latencyMS{P50: 20, P99: 40}},
	}}
	peer := benchReport{Target: "p", Results: []benchResult{
		{Workload: "get", Conns: 16, Ops: 10, OpsPerSec: 100, Latency: latencyMS{P50: 100, P99: 600}},
		{Workload: "vcenter", Conns: 1, Errors: 12, ErrorSamples: []string{"Add Attribute: not implemented (x12)"}},
	}}
	hsm := &hsmReport{RawDecrypt: 20000, RawSeal: 10000, RawRandom: 100000}
	rows := compare(adapter, peer, hsm)
	require.Len(t, rows, 3)
	assert.InDelta(t, 50, rows[0].Ratio, 1e-9)
	assert.InDelta(t, 20000, rows[0].RawHSM, 1e-9)
	assert.InDelta(t, 0.25, rows[0].OfRawHSM, 1e-9)
	assert.InDelta(t, 3, rows[0].P99OverP50, 1e-9)
	assert.Zero(t, rows[1].RawHSM, "Locate makes no HSM call")
	assert.Nil(t, rows[1].Peer)
	assert.Zero(t, rows[2].Ratio, "no ratio against a peer that fails")

	md := markdownReport(rows, adapter, peer, hsm, "pykmip-server", "make bench")
	assert.Contains(t, md, "| get | 16 | 5000 | 100 | 50.0x | 2.00 / 6.00 | 100.00 / 600.00 | 20000 | 25.0% |")
	assert.NotContains(t, md, "CPU per operation", "no server CPU measured: no CPU table")

	rows[0].Adapter.ServerCPUPerOp, rows[0].Adapter.ClientCPUPerOp = 150, 40
	rows[0].Peer.ServerCPUPerOp, rows[0].Peer.ClientCPUPerOp = 9000, 60
	md = markdownReport(rows, adapter, peer, hsm, "pykmip-server", "make bench")
	assert.Contains(t, md, "| get | 16 | 150 | 9000 | 60.0x | 40 | 60 |")
	cpu := md[strings.Index(md, "CPU per operation"):strings.Index(md, "Errors seen")]
	assert.NotContains(t, cpu, "| locate |", "only runs whose server CPU was measured")
	assert.Contains(t, md, "| vcenter | 1 | 50 | fails | - |")
	assert.Contains(t, md, "not implemented")

	svg := svgChart(rows, "pykmip-server")
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		_, err := dec.Token()
		if err != nil {
			assert.Equal(t, "EOF", err.Error(), "the chart is well-formed XML")
			break
		}
	}
	assert.Contains(t, svg, "fails")
	assert.Equal(t, 8, strings.Count(svg, "<title>"), "a bar per run that has operations (4), in each panel")
}

// TestReportReadsSeveralResults: the adapter's and the peer's results may
// come in a file per workload (make bench alternates the two servers
// workload by workload); they are read as one, in order, under the first
// file's heading.
func TestReportReadsSeveralResults(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r benchReport) string {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	first := write("get.json", benchReport{Label: "kmip-adapter", Target: "a", TLS: "TLS 1.3", Results: []benchResult{
		{Workload: "get", Conns: 1, OpsPerSec: 2000}, {Workload: "get", Conns: 16, OpsPerSec: 7000}}})
	second := write("create.json", benchReport{Label: "kmip-adapter", Target: "a", Results: []benchResult{
		{Workload: "create", Conns: 16, OpsPerSec: 3000}}})
	got, err := readReports([]string{first, second})
	require.NoError(t, err)
	assert.Equal(t, "TLS 1.3", got.TLS)
	require.Len(t, got.Results, 3)
	assert.Equal(t, []string{"get", "get", "create"}, []string{got.Results[0].Workload, got.Results[1].Workload, got.Results[2].Workload})

	none, err := readReports(nil)
	require.NoError(t, err)
	assert.Empty(t, none.Results, "no peer given: no peer results")
	_, err = readReports([]string{first, filepath.Join(dir, "missing.json")})
	require.Error(t, err)
}
