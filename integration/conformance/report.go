package conformance

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report holds the results of a run, in file order.
type Report struct {
	Results []Result
	Elapsed time.Duration
}

// Passed returns the names of the files that passed, in order.
func (r *Report) Passed() []string {
	var out []string
	for _, res := range r.Results {
		if res.Passed {
			out = append(out, res.File.Name)
		}
	}
	return out
}

// Failed returns the results of the files that ran and failed.
func (r *Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Run && !res.Passed {
			out = append(out, res)
		}
	}
	return out
}

// Result returns the result of a file by name.
func (r *Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.File.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

// NotClaimed lists the files the server does not claim, one line per
// profile: "CS-BC: CS-BC-M-1-13 CS-BC-M-2-13 ...".
func (r *Report) NotClaimed() []string {
	byGroup := map[string][]string{}
	var order []string
	for _, res := range r.Results {
		if res.Run {
			continue
		}
		g := res.File.Group()
		if !res.File.Mandatory {
			g += " (optional)"
		}
		if byGroup[g] == nil {
			order = append(order, g)
		}
		byGroup[g] = append(byGroup[g], res.File.Name)
	}
	slices.Sort(order)
	out := make([]string, len(order))
	for i, g := range order {
		out[i] = g + ": " + strings.Join(byGroup[g], " ")
	}
	return out
}

// Summary counts passes and failures per protocol version and profile,
// then per version, then in all; the files not claimed are counted per
// profile.
func (r *Report) Summary() string {
	type count struct{ passed, failed int }
	type key struct {
		version Version
		profile string
	}
	var keys []key
	counts := map[key]*count{}
	versions := map[Version]*count{}
	var versionOrder []Version
	total := &count{}
	notClaimed := map[string]int{}
	var notClaimedOrder []string
	for _, res := range r.Results {
		f := res.File
		if !res.Run {
			name := f.Group()
			if !f.Mandatory {
				name += " (optional)"
			}
			if notClaimed[name] == 0 {
				notClaimedOrder = append(notClaimedOrder, name)
			}
			notClaimed[name]++
			continue
		}
		k := key{f.Version, f.Profile}
		if counts[k] == nil {
			counts[k] = &count{}
			keys = append(keys, k)
		}
		if versions[f.Version] == nil {
			versions[f.Version] = &count{}
			versionOrder = append(versionOrder, f.Version)
		}
		for _, c := range []*count{counts[k], versions[f.Version], total} {
			if res.Passed {
				c.passed++
			} else {
				c.failed++
			}
		}
	}
	var sb strings.Builder
	for _, v := range versionOrder {
		for _, k := range keys {
			if k.version == v {
				c := counts[k]
				fmt.Fprintf(&sb, "%s %-6s %3d passed, %3d failed\n", v, k.profile, c.passed, c.failed)
			}
		}
		c := versions[v]
		fmt.Fprintf(&sb, "%s %-6s %3d passed, %3d failed\n", v, "all", c.passed, c.failed)
	}
	if len(notClaimedOrder) > 0 {
		slices.Sort(notClaimedOrder)
		parts := make([]string, len(notClaimedOrder))
		n := 0
		for i, name := range notClaimedOrder {
			parts[i] = fmt.Sprintf("%s %d", name, notClaimed[name])
			n += notClaimed[name]
		}
		fmt.Fprintf(&sb, "not claimed (listed, not run): %d files: %s\n", n, strings.Join(parts, ", "))
	}
	fmt.Fprintf(&sb, "total: %d passed, %d failed (%d claimed files in %s)\n", total.passed, total.failed, total.passed+total.failed, r.Elapsed.Round(time.Millisecond))
	return sb.String()
}

// ReadList reads a list of file names, one a line; blank lines and lines
// starting with # are skipped.
func ReadList(rd io.Reader) ([]string, error) {
	var out []string
	s := bufio.NewScanner(rd)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, s.Err()
}

// WriteList writes the list of passing files with a header that says
// how it is made.
func WriteList(w io.Writer, names []string) error {
	const header = `# OASIS KMIP vectors that pass against kmip-adapter (one file name a line).
# TestConformance fails when one of them stops passing; rewrite with
# make conformance UPDATE=1
`
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	for _, n := range names {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	return nil
}
