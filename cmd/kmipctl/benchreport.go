package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// hsmCost is what one operation of a workload costs in the HSM, in calls
// whose single-session rates `bench hsm` measures: decrypts (a Get),
// seals (IV + encrypt: a Register) and 32-byte random draws (a Create
// adds one to its seal).
type hsmCost struct{ decrypt, seal, random float64 }

var workloadHSMCost = map[string]hsmCost{
	"create":   {seal: 1, random: 1},
	"get":      {decrypt: 1},
	"locate":   {},
	"register": {seal: 1},
	"mixed":    {decrypt: 0.90, seal: 0.02, random: 0.02},
	"vcenter":  {decrypt: 1, seal: 1, random: 1},
}

// rawRate is the rate at which one HSM session could serve the workload's
// HSM calls and nothing else; 0 when the workload makes none.
func rawRate(workload string, h *hsmReport) float64 {
	c, ok := workloadHSMCost[workload]
	if !ok || h == nil || h.RawDecrypt == 0 || h.RawSeal == 0 || h.RawRandom == 0 {
		return 0
	}
	secs := c.decrypt/h.RawDecrypt + c.seal/h.RawSeal + c.random/h.RawRandom
	if secs == 0 {
		return 0
	}
	return 1 / secs
}

// comparison is one row of the side-by-side table.
type comparison struct {
	Workload   string       `json:"workload"`
	Conns      int          `json:"conns"`
	Adapter    *benchResult `json:"adapter"`
	Peer       *benchResult `json:"peer,omitempty"`
	Ratio      float64      `json:"ratio,omitempty"`
	RawHSM     float64      `json:"raw_hsm_per_s,omitempty"`
	OfRawHSM   float64      `json:"fraction_of_raw_hsm,omitempty"`
	P99OverP50 float64      `json:"adapter_p99_over_p50,omitempty"`
}

func benchReportCmd() *cobra.Command {
	var adapterPaths, peerPaths []string
	var hsmPath, mdPath, svgPath, jsonPath, peerName, command string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Compare two `kmipctl bench --json` results (the adapter and a peer) and the raw HSM rates: a table and an SVG chart",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adapter, err := readReports(adapterPaths)
			if err != nil {
				return fmt.Errorf("--adapter: %w", err)
			}
			peer, err := readReports(peerPaths)
			if err != nil {
				return fmt.Errorf("--peer: %w", err)
			}
			var hsm *hsmReport
			if hsmPath != "" {
				hsm = &hsmReport{}
				if err := readJSON(hsmPath, hsm); err != nil {
					return fmt.Errorf("--hsm: %w", err)
				}
			}
			rows := compare(adapter, peer, hsm)
			md := markdownReport(rows, adapter, peer, hsm, peerName, command)
			if mdPath != "" {
				if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
					return err
				}
			}
			if svgPath != "" {
				if err := os.WriteFile(svgPath, []byte(svgChart(rows, peerName)), 0o644); err != nil {
					return err
				}
			}
			if jsonPath != "" {
				b, err := json.MarshalIndent(map[string]any{"adapter": adapter, "peer": peer, "hsm": hsm, "rows": rows}, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
					return err
				}
			}
			printComparison(cmd.OutOrStdout(), rows, peerName)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&adapterPaths, "adapter", nil, "bench --json result(s) of the adapter: several (comma-separated or repeated) are read as one, their runs in order")
	f.StringSliceVar(&peerPaths, "peer", nil, "bench --json result(s) of the peer, as --adapter")
	f.StringVar(&hsmPath, "hsm", "", "bench hsm --json result")
	f.StringVar(&peerName, "peer-name", "pykmip-server", "the peer's name in the table and chart")
	f.StringVar(&mdPath, "markdown", "", "write the table (Markdown) here")
	f.StringVar(&svgPath, "svg", "", "write the chart (SVG) here")
	f.StringVar(&jsonPath, "json-out", "", "write everything (JSON) here")
	f.StringVar(&command, "command", "make bench", "the command that produced the figures, quoted in the Markdown")
	_ = cmd.MarkFlagRequired("adapter")
	return cmd
}

// readReports reads bench results as one: the first file's heading, the
// runs of all of them in order (make bench measures the adapter and the
// peer in turn, one workload at a time, into a file per workload).
func readReports(paths []string) (benchReport, error) {
	var out benchReport
	for i, p := range paths {
		var r benchReport
		if err := readJSON(p, &r); err != nil {
			return benchReport{}, err
		}
		if i == 0 {
			out = r
			continue
		}
		out.Results = append(out.Results, r.Results...)
	}
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func compare(adapter, peer benchReport, hsm *hsmReport) []comparison {
	var rows []comparison
	for i := range adapter.Results {
		a := &adapter.Results[i]
		row := comparison{Workload: a.Workload, Conns: a.Conns, Adapter: a}
		for j := range peer.Results {
			if p := &peer.Results[j]; p.Workload == a.Workload && p.Conns == a.Conns {
				row.Peer = p
			}
		}
		if row.Peer != nil && row.Peer.OpsPerSec > 0 && row.Peer.Errors == 0 && a.Errors == 0 {
			row.Ratio = a.OpsPerSec / row.Peer.OpsPerSec
		}
		if r := rawRate(a.Workload, hsm); r > 0 {
			row.RawHSM = r
			row.OfRawHSM = a.OpsPerSec / r
		}
		if a.Latency.P50 > 0 {
			row.P99OverP50 = a.Latency.P99 / a.Latency.P50
		}
		rows = append(rows, row)
	}
	return rows
}

// cell renders a run's throughput, or why there is none.
func cell(r *benchResult) string {
	switch {
	case r == nil:
		return "-"
	case r.SetupError != "":
		return "setup failed"
	case r.Ops == 0 && r.Errors > 0:
		return "fails"
	case r.Errors > 0:
		return fmt.Sprintf("%s (%d errors)", opsRate(r.OpsPerSec), r.Errors)
	default:
		return opsRate(r.OpsPerSec)
	}
}

// opsRate prints a rate with the digits that matter: a slow peer's
// fraction of an operation per second is not 0.
func opsRate(v float64) string {
	switch {
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func latencyCell(r *benchResult) string {
	if r == nil || r.Ops == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f / %.2f", r.Latency.P50, r.Latency.P99)
}

func ratioCell(c comparison) string {
	if c.Ratio == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fx", c.Ratio)
}

func rawCell(c comparison) (string, string) {
	if c.RawHSM == 0 {
		return "-", "-"
	}
	return fmt.Sprintf("%.0f", c.RawHSM), fmt.Sprintf("%.1f%%", 100*c.OfRawHSM)
}

func printComparison(w io.Writer, rows []comparison, peerName string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\tconns\tadapter ops/s\t%s ops/s\tratio\tadapter p50/p99 ms\t%s p50/p99 ms\traw HSM ops/s\tadapter/raw HSM\n", peerName, peerName)
	for _, c := range rows {
		raw, frac := rawCell(c)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Workload, c.Conns, cell(c.Adapter), cell(c.Peer), ratioCell(c),
			latencyCell(c.Adapter), latencyCell(c.Peer), raw, frac)
	}
	_ = tw.Flush()
}

// cpuTable is the CPU each server and the load generator spent per
// operation (kmipctl bench --server-pid), when it was measured: unlike
// ops/s it hardly moves with other load on the machine.
func cpuTable(rows []comparison, peerName string) string {
	us := func(r *benchResult, server bool) string {
		switch {
		case r == nil || r.Ops == 0:
			return "-"
		case server && r.ServerCPUPerOp > 0:
			return fmt.Sprintf("%.0f", r.ServerCPUPerOp)
		case !server && r.ClientCPUPerOp > 0:
			return fmt.Sprintf("%.0f", r.ClientCPUPerOp)
		}
		return "-"
	}
	var b strings.Builder
	for _, c := range rows {
		if c.Adapter == nil || c.Adapter.ServerCPUPerOp == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\nCPU per operation, µs (each server's own process and its children, from /proc; the load generator's own):\n\n")
			b.WriteString("| workload | conns | adapter | " + peerName + " | " + peerName + " / adapter | load generator with adapter | with " + peerName + " |\n")
			b.WriteString("|---|---:|---:|---:|---:|---:|---:|\n")
		}
		ratio := "-"
		if p := c.Peer; p != nil && p.Ops > 0 && p.ServerCPUPerOp > 0 {
			ratio = fmt.Sprintf("%.1fx", p.ServerCPUPerOp/c.Adapter.ServerCPUPerOp)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", c.Workload, c.Conns, us(c.Adapter, true), us(c.Peer, true), ratio, us(c.Adapter, false), us(c.Peer, false))
	}
	return b.String()
}

func markdownReport(rows []comparison, adapter, peer benchReport, hsm *hsmReport, peerName, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark: kmip-adapter beside %s\n\n", peerName)
	fmt.Fprintf(&b, "Produced by `%s` on %s. Both servers ran on the same machine in the same run, with the load generator (`kmipctl bench`) on the same cores; absolute numbers depend on the machine, ratios are what to compare.\n\n", command, adapter.Started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- adapter: %s, %s\n", adapter.Target, adapter.TLS)
	if peer.Target != "" {
		fmt.Fprintf(&b, "- %s: %s, %s\n", peerName, peer.Target, peer.TLS)
	}
	if hsm != nil {
		fmt.Fprintf(&b, "- HSM: token %q (%s), one session: %.0f AES-GCM decrypts/s, %.0f seals/s (IV + encrypt), %.0f random draws/s; through the adapter's backend: %.0f opens/s with 1 caller, %.0f with 16\n",
			hsm.Token, hsm.Module, hsm.RawDecrypt, hsm.RawSeal, hsm.RawRandom, hsm.BackendOpen, hsm.BackendOpen16)
	}
	b.WriteString("\n| workload | conns | adapter ops/s | " + peerName + " ops/s | ratio | adapter p50 / p99 ms | " + peerName + " p50 / p99 ms | raw HSM ops/s | adapter / raw HSM |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range rows {
		raw, frac := rawCell(c)
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", c.Workload, c.Conns, cell(c.Adapter), cell(c.Peer), ratioCell(c),
			latencyCell(c.Adapter), latencyCell(c.Peer), raw, frac)
	}
	b.WriteString("\n\"raw HSM ops/s\" is the rate at which one PKCS#11 session on the same token does only the HSM calls one operation of the workload makes (Get: one AES-GCM decrypt; Create: a random draw and a seal; Register: a seal; vcenter: all three); Locate makes none.\n")
	b.WriteString(cpuTable(rows, peerName))
	var notes []string
	for _, c := range rows {
		for _, r := range []*benchResult{c.Adapter, c.Peer} {
			if r == nil {
				continue
			}
			who := "adapter"
			if r != c.Adapter {
				who = peerName
			}
			if r.SetupError != "" {
				notes = append(notes, fmt.Sprintf("- %s, %s, %d conns: setup failed: %s", who, c.Workload, c.Conns, r.SetupError))
			}
			for _, s := range r.ErrorSamples {
				notes = append(notes, fmt.Sprintf("- %s, %s, %d conns: %s", who, c.Workload, c.Conns, s))
			}
		}
	}
	if len(notes) > 0 {
		b.WriteString("\nErrors seen:\n\n" + strings.Join(notes, "\n") + "\n")
	}
	b.WriteString("\nWorkloads:\n\n")
	for _, n := range workloadOrder {
		fmt.Fprintf(&b, "- `%s`: %s\n", n, workloads[n].description)
	}
	return b.String()
}

// svgChart draws, per workload and connection count, the adapter's bar
// beside the peer's: throughput on the left, p99 latency on the right,
// both on logarithmic scales (the two servers are orders of magnitude
// apart).
func svgChart(rows []comparison, peerName string) string {
	const (
		width    = 1080
		rowH     = 34
		top      = 70
		labelW   = 130
		panelW   = 400
		gap      = 30
		barH     = 12
		adapterC = "#1f77b4"
		peerC    = "#ff7f0e"
	)
	height := top + rowH*len(rows) + 60
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="16" font-weight="bold">kmip-adapter beside %s: throughput and p99 latency (log scales)</text>`+"\n", 10, html.EscapeString(peerName))
	fmt.Fprintf(&b, `<rect x="10" y="34" width="12" height="12" fill="%s"/><text x="27" y="44">kmip-adapter</text>`+"\n", adapterC)
	fmt.Fprintf(&b, `<rect x="130" y="34" width="12" height="12" fill="%s"/><text x="147" y="44">%s</text>`+"\n", peerC, html.EscapeString(peerName))

	opsMax, latMax, latMin := 1.0, 1.0, 1.0
	for _, c := range rows {
		for _, r := range []*benchResult{c.Adapter, c.Peer} {
			if r != nil && r.Ops > 0 {
				opsMax = math.Max(opsMax, r.OpsPerSec)
				latMax = math.Max(latMax, r.Latency.P99)
				latMin = math.Min(latMin, r.Latency.P99)
			}
		}
	}
	opsTop := math.Pow(10, math.Ceil(math.Log10(opsMax)))
	latTop := math.Pow(10, math.Ceil(math.Log10(latMax)))
	latBottom := math.Pow(10, math.Floor(math.Log10(latMin)))
	panels := []struct {
		x        int
		title    string
		lo, hi   float64
		value    func(*benchResult) float64
		format   string
		unitName string
	}{
		{labelW, "operations per second", 1, opsTop, func(r *benchResult) float64 { return r.OpsPerSec }, "%.0f", "ops/s"},
		{labelW + panelW + gap + 40, "p99 latency, ms", latBottom, latTop, func(r *benchResult) float64 { return r.Latency.P99 }, "%.2f", "ms"},
	}
	for _, p := range panels {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", p.x, top-12, p.title)
		scale := func(v float64) float64 {
			if v <= p.lo {
				return 0
			}
			return panelW * math.Log10(v/p.lo) / math.Log10(p.hi/p.lo)
		}
		for d := p.lo; d <= p.hi*1.0001; d *= 10 {
			x := float64(p.x) + scale(d)
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top-4, x, top+rowH*len(rows))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%s</text>`+"\n", x, top+rowH*len(rows)+16, tickLabel(d))
		}
		for i, c := range rows {
			y := top + i*rowH
			for k, r := range []*benchResult{c.Adapter, c.Peer} {
				color := adapterC
				if k == 1 {
					color = peerC
				}
				by := y + 3 + k*(barH+2)
				if r == nil || r.Ops == 0 {
					label := "n/a"
					if r != nil && r.Errors > 0 {
						label = "fails"
					}
					fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" font-size="10">%s</text>`+"\n", p.x+2, by+10, color, label)
					continue
				}
				v := p.value(r)
				wpx := math.Max(1, scale(v))
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
					p.x, by, wpx, barH, color, html.EscapeString(fmt.Sprintf("%s, %d conns: "+p.format+" %s", c.Workload, c.Conns, v, p.unitName)))
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10">`+p.format+`</text>`+"\n", float64(p.x)+wpx+3, by+10, v)
			}
		}
	}
	for i, c := range rows {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s, %d conn%s</text>`+"\n", labelW-8, y+19, html.EscapeString(c.Workload), c.Conns, plural(c.Conns))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	default:
		return fmt.Sprintf("%g", v)
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
