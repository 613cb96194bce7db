package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/kmip/client"
)

// benchCmd is `kmipctl bench`: a KMIP load generator with persistent TLS
// connections, for this server and any other (it is how the peers are
// measured), plus `bench hsm` (the raw PKCS#11 rates) and `bench report`
// (the side-by-side table and chart).
func benchCmd() *cobra.Command {
	var t target
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a KMIP server (any KMIP server) and report throughput, latency and errors",
		Long: `bench opens --conns persistent mutual TLS connections to a KMIP server and
sends one workload's operations on each, back to back, for --duration (or
until --requests operations are done), then prints throughput, latency
percentiles and errors. Several workloads and connection counts run one
after the other.

Workloads:
` + workloadHelp() + `
The keys that get, locate and mixed use (--keys of them) are created and
fetched once before the clock starts. An operation still in flight when
the time is up runs to its end and counts. A live progress line goes to
standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := t.dialer()
			if err != nil {
				return err
			}
			d.tls = withResumption(d.tls)
			ctx, stop := signal.NotifyContext(cmdContext(cmd), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runBench(ctx, d, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	t.flags(cmd.Flags())
	f := cmd.Flags()
	f.StringSliceVar(&o.workloads, "workload", []string{"get"}, "workloads, comma-separated, or all: "+strings.Join(workloadNames(), ", "))
	f.IntSliceVar(&o.conns, "conns", []int{1}, "concurrent connections, comma-separated to run each workload at several counts")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long each run lasts")
	f.Int64Var(&o.requests, "requests", 0, "stop each run after this many operations instead of after --duration")
	f.IntVar(&o.keys, "keys", 256, "keys created beforehand for get, locate and mixed")
	f.BoolVar(&o.asJSON, "json", false, "print the results as JSON")
	f.StringVar(&o.label, "label", "", "name of the server under test, carried into the results")
	f.StringVar(&o.out, "out", "", "also write the JSON results to this file")
	f.BoolVar(&o.quiet, "quiet", false, "no progress line")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the load generator itself to this file (to tell its cost from the server's)")
	f.IntVar(&o.serverPID, "server-pid", 0, "PID of a server on this machine: report its CPU time (and its children's) per operation too (Linux)")
	cmd.AddCommand(benchHSMCmd(), benchReportCmd(), benchPKICmd(), benchIdleCmd())
	return cmd
}

type benchOptions struct {
	workloads []string
	conns     []int
	duration  time.Duration
	requests  int64
	keys      int
	asJSON    bool
	label     string
	out       string
	quiet     bool
	// cpuProfile is where the load generator's own CPU profile goes.
	cpuProfile string
	// serverPID is a local server whose CPU per operation is measured
	// (0: none).
	serverPID int
}

// benchReport is what `kmipctl bench --json` prints and `bench report`
// reads.
type benchReport struct {
	Label   string        `json:"label,omitempty"`
	Target  string        `json:"target"`
	TLS     string        `json:"tls,omitempty"`
	Started time.Time     `json:"started"`
	Results []benchResult `json:"results"`
}

// benchResult is one run: a workload at a number of connections.
type benchResult struct {
	Workload     string    `json:"workload"`
	Description  string    `json:"description"`
	KMIPVersion  string    `json:"kmip_version"`
	Conns        int       `json:"conns"`
	Seconds      float64   `json:"seconds"`
	Ops          int64     `json:"ops"`
	Requests     int64     `json:"requests"`
	OpsPerSec    float64   `json:"ops_per_s"`
	Errors       int64     `json:"errors"`
	ErrorSamples []string  `json:"error_samples,omitempty"`
	SetupError   string    `json:"setup_error,omitempty"`
	Latency      latencyMS `json:"latency_ms"`
	// ClientCPUPerOp is the load generator's own CPU time (user and
	// system, this process) per operation over the timed run, in µs:
	// it shares the machine with a local server, so its cost is part of
	// what limits the rate measured. 0 where it cannot be read.
	ClientCPUPerOp float64 `json:"client_cpu_us_per_op,omitempty"`
	// ServerCPUPerOp is the server's CPU time per operation over the
	// timed run, in µs (--server-pid): unlike ops/s it hardly moves with
	// other load on a shared machine. 0 when not measured.
	ServerCPUPerOp float64 `json:"server_cpu_us_per_op,omitempty"`
}

// latencyMS are an operation's latency percentiles, in milliseconds.
type latencyMS struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func runBench(ctx context.Context, d *dialer, o benchOptions, stdout, stderr io.Writer) error {
	names, err := expandWorkloads(o.workloads)
	if err != nil {
		return err
	}
	if len(o.conns) == 0 {
		return errors.New("--conns: give at least one count")
	}
	for _, n := range o.conns {
		if n < 1 || n > 10000 {
			return fmt.Errorf("--conns: %d is not between 1 and 10000", n)
		}
	}
	if o.requests <= 0 && o.duration <= 0 {
		return errors.New("give a positive --duration or --requests")
	}
	if o.keys < 1 {
		return errors.New("--keys: at least 1")
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rep := benchReport{Label: o.label, Target: d.addr, Started: time.Now().UTC()}
	// One connection first: it proves the target answers, and says how.
	probe, err := d.dial(ctx)
	if err != nil {
		return err
	}
	st := probe.ConnectionState()
	rep.TLS = tlsName(st.Version, st.CipherSuite)
	_ = probe.Close()

	progress := stderr
	if o.quiet || o.asJSON && stderr == stdout {
		progress = io.Discard
	}
	for _, name := range names {
		w := workloads[name]
		for _, n := range o.conns {
			if ctx.Err() != nil {
				break
			}
			res := runWorkload(ctx, d, w, n, o, progress)
			rep.Results = append(rep.Results, res)
		}
	}
	if o.out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printBenchTable(stdout, rep)
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	for _, r := range rep.Results {
		if r.SetupError != "" {
			return fmt.Errorf("workload %s: %s", r.Workload, r.SetupError)
		}
	}
	return nil
}

func tlsName(version, suite uint16) string {
	return tls.VersionName(version) + " " + tls.CipherSuiteName(suite)
}

func printBenchTable(w io.Writer, rep benchReport) {
	label := rep.Target
	if rep.Label != "" {
		label = rep.Label + " at " + rep.Target
	}
	fmt.Fprintf(w, "%s (%s)\n", label, rep.TLS)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tkmip\tconns\tseconds\tops\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tbench cpu µs/op\tserver cpu µs/op\t")
	for _, r := range rep.Results {
		if r.SetupError != "" {
			fmt.Fprintf(tw, "%s\t%s\t%d\tsetup failed: %s\t\t\t\t\t\t\t\t\t\t\n", r.Workload, r.KMIPVersion, r.Conns, r.SetupError)
			continue
		}
		server := "-"
		if r.ServerCPUPerOp > 0 {
			server = fmt.Sprintf("%.1f", r.ServerCPUPerOp)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%.1f\t%s\t\n",
			r.Workload, r.KMIPVersion, r.Conns, r.Seconds, r.Ops, r.OpsPerSec,
			r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, r.Errors, r.ClientCPUPerOp, server)
	}
	_ = tw.Flush()
	for _, r := range rep.Results {
		for _, s := range r.ErrorSamples {
			fmt.Fprintf(w, "  %s/%d error: %s\n", r.Workload, r.Conns, s)
		}
	}
}

// workerStats is what one connection's worker counts.
type workerStats struct {
	lat    []int64 // nanoseconds, one per operation that succeeded
	errs   int64
	sample map[string]int
}

func (s *workerStats) fail(err error) {
	s.errs++
	msg := err.Error()
	if s.sample == nil {
		s.sample = map[string]int{}
	}
	if _, ok := s.sample[msg]; ok || len(s.sample) < 5 {
		s.sample[msg]++
	}
}

// runWorkload sets the workload up (its keys), opens n connections, and
// runs operations on all of them until the time or the count is up.
func runWorkload(ctx context.Context, d *dialer, w *workload, n int, o benchOptions, progress io.Writer) benchResult {
	wd := *d
	if w.version != nil {
		wd.opts.Version = *w.version
	}
	res := benchResult{Workload: w.name, Description: w.description, KMIPVersion: wd.opts.Version.String(), Conns: n}

	conns := make([]*client.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close()
			}
		}
	}()
	for i := range conns {
		c, err := wd.dial(ctx)
		if err != nil {
			res.SetupError = err.Error()
			return res
		}
		conns[i] = c
	}
	fmt.Fprintf(progress, "%s, %d conn(s): preparing\n", w.name, n)
	state, err := w.setup(ctx, conns, o.keys)
	if err != nil {
		res.SetupError = err.Error()
		return res
	}

	var done, failed atomic.Int64
	var claimed atomic.Int64
	stats := make([]workerStats, n)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.requests <= 0 {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithTimeout(runCtx, o.duration)
		defer c2()
	}
	start := time.Now()
	cpu0, cpuOK := processCPU()
	srv0, srvOK := serverCPU(o.serverPID)
	stopProgress := startProgress(progress, w.name, n, start, o, &done, &failed)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			op := w.worker(state, i)
			st := &stats[i]
			st.lat = make([]int64, 0, 4096)
			for runCtx.Err() == nil {
				if o.requests > 0 && claimed.Add(1) > o.requests {
					return
				}
				// An operation started before the end runs to its end: the
				// run's deadline is not the request's.
				t0 := time.Now()
				err := op(ctx, conns[i])
				el := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return // interrupted
					}
					st.fail(err)
					failed.Add(1)
					var re *client.ResultError
					if !errors.As(err, &re) {
						// The connection is gone or out of step: open another.
						_ = conns[i].Close()
						c, derr := wd.dial(ctx)
						if derr != nil {
							st.fail(derr)
							failed.Add(1)
							time.Sleep(100 * time.Millisecond)
							continue
						}
						conns[i] = c
					}
					continue
				}
				st.lat = append(st.lat, int64(el))
				done.Add(1)
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, cpuOK1 := processCPU()
	srv1, srvOK1 := serverCPU(o.serverPID)
	stopProgress()

	var all []int64
	samples := map[string]int{}
	for _, s := range stats {
		all = append(all, s.lat...)
		res.Errors += s.errs
		for m, c := range s.sample {
			samples[m] += c
		}
	}
	for m, c := range samples {
		res.ErrorSamples = append(res.ErrorSamples, fmt.Sprintf("%s (x%d)", m, c))
	}
	res.Seconds = elapsed.Seconds()
	res.Ops = int64(len(all))
	res.Requests = res.Ops * int64(w.messages)
	res.OpsPerSec = float64(res.Ops) / elapsed.Seconds()
	res.Latency = percentiles(all)
	if cpuOK && cpuOK1 && res.Ops > 0 {
		res.ClientCPUPerOp = float64(cpu1-cpu0) / 1e3 / float64(res.Ops)
	}
	if srvOK && srvOK1 && res.Ops > 0 {
		res.ServerCPUPerOp = float64(srv1-srv0) / 1e3 / float64(res.Ops)
	}
	return res
}

// startProgress prints a live line (rewritten in place on a terminal, a
// line every 5 seconds otherwise) until the returned func is called.
func startProgress(w io.Writer, name string, conns int, start time.Time, o benchOptions, done, failed *atomic.Int64) func() {
	if w == io.Discard {
		return func() {}
	}
	tty := isTerminal(w)
	every := 5 * time.Second
	if tty {
		every = 500 * time.Millisecond
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		last, lastAt := int64(0), start
		line := func(now time.Time) string {
			n := done.Load()
			rate := float64(n-last) / now.Sub(lastAt).Seconds()
			last, lastAt = n, now
			goal := ""
			if o.requests > 0 {
				goal = fmt.Sprintf("  %s %d/%d", progressBar(n, o.requests), n, o.requests)
			} else {
				goal = fmt.Sprintf(" of %s", o.duration)
			}
			return fmt.Sprintf("%s, %d conn(s): %5.1fs%s  %d ops  %.0f ops/s now  %.0f ops/s overall  %d errors",
				name, conns, now.Sub(start).Seconds(), goal, n, rate, float64(n)/now.Sub(start).Seconds(), failed.Load())
		}
		for {
			select {
			case now := <-tick.C:
				if tty {
					fmt.Fprintf(w, "\r\033[K%s", line(now))
				} else {
					fmt.Fprintln(w, line(now))
				}
			case <-stop:
				if tty {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// progressBar draws done of total as [#####.....] 50%.
func progressBar(done, total int64) string {
	const width = 30
	if total <= 0 {
		return ""
	}
	filled := int(min(done, total) * width / total)
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", filled), strings.Repeat(".", width-filled), min(done, total)*100/total)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
