// Command testcheck makes sure no test is left out without anyone seeing:
//
//	go test -json ./... | testcheck skips
//
// prints the run as a plain `go test` does (the output of failing tests,
// the package lines), lists every skipped test with its reason, and exits 1
// when a test was skipped while KMIP_INTEGRATION_REQUIRED=1 (CI, where
// every peer is installed and a skip means a test that did not run) or
// when the stream shows a failure. The skips that are meant to happen in
// CI too (an optional capability a store lacks, an opt-in long run) are
// listed in scripts/testcheck-skips.txt, one "IMPORT/PATH TestName" per
// line with a comment saying why.
//
//	testcheck files
//
// fails when a _test.go file is compiled on no platform: a build
// constraint (a tag nobody sets, //go:build ignore) would leave it out of
// every `go test` run without a word. Files for other systems
// (procattr_other_test.go) are fine: they compile there.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

const (
	requiredEnv = "KMIP_INTEGRATION_REQUIRED"
	// allowedSkips lists the tests that may skip in CI.
	allowedSkips = "scripts/testcheck-skips.txt"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go test -json ./... | testcheck skips\n       testcheck files")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "skips":
		var allowed map[key]bool
		if allowed, err = readAllowed(allowedSkips); err == nil {
			err = skips(os.Stdin, os.Stdout, os.Getenv(requiredEnv) == "1", allowed)
		}
	case "files":
		err = files(os.Stdout)
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcheck:", err)
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64 // seconds, on pass, fail and skip
}

type key struct{ pkg, test string }

// skips reads a `go test -json` stream, writes what a plain run prints,
// and reports the skipped tests.
func skips(in io.Reader, out io.Writer, required bool, allowed map[key]bool) error {
	w := bufio.NewWriter(out)
	defer w.Flush()
	pending := map[key][]string{} // a running test's output, shown if it fails
	skipped := map[key]string{}   // skipped test -> its reason
	failures := 0
	var timed []timing   // top-level tests, for the slowest-tests summary
	var unfinished []key // tests still running when their package failed
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintln(w, string(line)) // not an event: show it as it is
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output", "build-output":
			if e.Test == "" {
				if !verboseLine(e.Output) {
					fmt.Fprint(w, e.Output)
				}
				continue
			}
			pending[k] = append(pending[k], e.Output)
		case "fail", "build-fail":
			failures++
			if e.Test == "" {
				// The package failed with tests still running: a timeout
				// or a crash. Those tests get no event of their own, and
				// their output (the timeout panic with its goroutine dump)
				// is the only clue to what hung: show it now.
				unfinished = append(unfinished, flushPackage(w, pending, e.Package)...)
			}
			for _, l := range pending[k] {
				fmt.Fprint(w, l)
			}
			delete(pending, k)
		case "skip":
			if e.Test != "" {
				skipped[k] = skipReason(pending[k])
			}
			delete(pending, k)
		case "pass":
			delete(pending, k)
		}
		if (e.Action == "pass" || e.Action == "fail") && e.Test != "" && !strings.Contains(e.Test, "/") {
			timed = append(timed, timing{k, e.Elapsed})
		}
		_ = w.Flush()
	}
	if err := sc.Err(); err != nil {
		return err
	}
	list := make([]key, 0, len(skipped))
	for k := range skipped {
		list = append(list, k)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].pkg != list[j].pkg {
			return list[i].pkg < list[j].pkg
		}
		return list[i].test < list[j].test
	})
	slowest(w, timed, 15)
	if len(unfinished) > 0 {
		// Last, so that a log cut to its end still names them.
		fmt.Fprintf(w, "tests that never finished (their package timed out or crashed; output above): %d\n", len(unfinished))
		for _, k := range unfinished {
			fmt.Fprintf(w, "  UNFINISHED %s %s\n", k.pkg, k.test)
		}
	}
	unexpected := 0
	if len(list) > 0 {
		fmt.Fprintf(w, "skipped tests: %d\n", len(list))
		for _, k := range list {
			note := ""
			if allowed[k] {
				note = " (allowed in CI: " + allowedSkips + ")"
			} else {
				unexpected++
			}
			fmt.Fprintf(w, "  SKIP %s %s: %s%s\n", k.pkg, k.test, skipped[k], note)
		}
	}
	w.Flush()
	switch {
	case failures > 0:
		return fmt.Errorf("%d failures in the test run", failures)
	case unexpected > 0 && required:
		return fmt.Errorf("%d tests skipped with %s=1: every peer is required, a skipped test is a test that did not run (a skip meant for CI too goes in %s)", unexpected, requiredEnv, allowedSkips)
	}
	return nil
}

// flushPackage prints the output of every test of pkg that has not ended
// and returns them, sorted.
func flushPackage(w io.Writer, pending map[key][]string, pkg string) []key {
	var open []key
	for k := range pending {
		if k.pkg == pkg && k.test != "" {
			open = append(open, k)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].test < open[j].test })
	for _, k := range open {
		fmt.Fprintf(w, "--- UNFINISHED: %s %s\n", k.pkg, k.test)
		for _, l := range pending[k] {
			fmt.Fprint(w, l)
		}
		delete(pending, k)
	}
	return open
}

// readAllowed reads the list of tests that may skip in CI; a missing
// file allows none.
func readAllowed(path string) (map[key]bool, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[key]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		switch len(f) {
		case 0:
		case 2:
			out[key{f[0], f[1]}] = true
		default:
			return nil, fmt.Errorf("%s:%d: want \"IMPORT/PATH TestName\"", path, i+1)
		}
	}
	return out, nil
}

// verboseLine reports the lines that -json adds to a package's output
// compared with a plain run (the test2json framing is per test).
func verboseLine(s string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME", "--- PASS", "PASS\n"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// skipReason is the last non-framing line a skipped test printed.
func skipReason(lines []string) string {
	reason := ""
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		reason = t
	}
	if reason == "" {
		return "(no reason given)"
	}
	return reason
}

// listed is what `go list -json` says of a package's files.
type listed struct {
	Dir            string
	ImportPath     string
	TestGoFiles    []string
	XTestGoFiles   []string
	IgnoredGoFiles []string
}

// otherPlatforms are where a file ignored on this one may compile.
var otherPlatforms = []string{"linux", "darwin", "windows", "freebsd"}

// files fails when a test file compiles on no platform.
func files(out io.Writer) error {
	compiled := map[string]bool{}
	ignored := map[string]bool{}
	for _, goos := range otherPlatforms {
		pkgs, err := list(goos)
		if err != nil {
			return err
		}
		for _, p := range pkgs {
			for _, f := range append(append([]string{}, p.TestGoFiles...), p.XTestGoFiles...) {
				compiled[filepath.Join(p.Dir, f)] = true
			}
			for _, f := range p.IgnoredGoFiles {
				if strings.HasSuffix(f, "_test.go") {
					ignored[filepath.Join(p.Dir, f)] = true
				}
			}
		}
	}
	var never []string
	for f := range ignored {
		if !compiled[f] {
			never = append(never, f)
		}
	}
	sort.Strings(never)
	wd, _ := os.Getwd()
	for _, f := range never {
		rel, err := filepath.Rel(wd, f)
		if err != nil {
			rel = f
		}
		fmt.Fprintf(out, "%s: a test file no `go test` compiles (its build constraint holds on no platform)\n", rel)
	}
	if len(never) > 0 {
		return fmt.Errorf("%d test files are skipped silently: remove their constraint, or run them from a make target", len(never))
	}
	fmt.Fprintf(out, "testcheck: all %d test files compile on some platform\n", len(compiled))
	return nil
}

func list(goos string) ([]listed, error) {
	cmd := exec.Command("go", "list", "-e", "-json=Dir,ImportPath,TestGoFiles,XTestGoFiles,IgnoredGoFiles", "./...")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "CGO_ENABLED=1")
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list (GOOS=%s): %w", goos, err)
	}
	var out []listed
	d := json.NewDecoder(strings.NewReader(string(b)))
	for d.More() {
		var p listed
		if err := d.Decode(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// timing is how long one top-level test ran.
type timing struct {
	key
	seconds float64
}

// slowest prints the n longest top-level tests, so that what makes
// `make test` slow (its budget is about 15 minutes) shows in every run.
func slowest(w io.Writer, timed []timing, n int) {
	if len(timed) == 0 {
		return
	}
	sort.Slice(timed, func(i, j int) bool { return timed[i].seconds > timed[j].seconds })
	fmt.Fprintf(w, "slowest tests:\n")
	for _, t := range timed[:min(n, len(timed))] {
		fmt.Fprintf(w, "  %7.1fs %s %s\n", t.seconds, t.pkg, t.test)
	}
}
