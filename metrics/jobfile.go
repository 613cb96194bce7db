package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// JobFile reports the progress of a batch job (`kmipctl hsm rotate`,
// `kmipctl kms rewrap`, `kmipctl store migrate`) as a Prometheus text file
// for node_exporter's textfile collector. These jobs are separate
// processes run by an operator (with the embedded store the server is
// even stopped), so the server cannot report them, and a short-lived
// process has no listener to scrape; the textfile collector is the usual
// way for such jobs, and needs nothing more than a directory.
//
// The file is replaced atomically (written beside, then renamed), at
// most once a second while the job runs and once at its end.
type JobFile struct {
	path, job string
	began     time.Time
	last      time.Time
	now       func() time.Time
}

// NewJobFile reports job's progress at path; an empty path gives nil,
// whose methods do nothing.
func NewJobFile(path, job string) *JobFile {
	if path == "" {
		return nil
	}
	return &JobFile{path: path, job: job, began: time.Now(), now: time.Now}
}

// Update records progress: done of total items, failed among them.
// finished is set by the last call. Errors (a full disk) are returned for
// the caller to warn about: progress reporting never stops the job.
func (j *JobFile) Update(done, total, failed int, finished bool) error {
	if j == nil {
		return nil
	}
	now := j.now()
	if !finished && !j.last.IsZero() && now.Sub(j.last) < time.Second {
		return nil
	}
	j.last = now
	fin := 0
	if finished {
		fin = 1
	}
	var b strings.Builder
	l := fmt.Sprintf(`job=%q`, j.job)
	fmt.Fprintf(&b, "# HELP kmip_adapter_job_items Items of a kmipctl batch job, by state (total, done, failed).\n# TYPE kmip_adapter_job_items gauge\n")
	fmt.Fprintf(&b, "kmip_adapter_job_items{%s,state=\"total\"} %d\n", l, total)
	fmt.Fprintf(&b, "kmip_adapter_job_items{%s,state=\"done\"} %d\n", l, done)
	fmt.Fprintf(&b, "kmip_adapter_job_items{%s,state=\"failed\"} %d\n", l, failed)
	fmt.Fprintf(&b, "# HELP kmip_adapter_job_finished 1 once the job ended (see the failed items), 0 while it runs.\n# TYPE kmip_adapter_job_finished gauge\n")
	fmt.Fprintf(&b, "kmip_adapter_job_finished{%s} %d\n", l, fin)
	fmt.Fprintf(&b, "# HELP kmip_adapter_job_start_time_seconds When the job began (Unix time).\n# TYPE kmip_adapter_job_start_time_seconds gauge\n")
	fmt.Fprintf(&b, "kmip_adapter_job_start_time_seconds{%s} %d\n", l, j.began.Unix())
	fmt.Fprintf(&b, "# HELP kmip_adapter_job_last_update_time_seconds When the job last reported (Unix time): a stale value means it stopped.\n# TYPE kmip_adapter_job_last_update_time_seconds gauge\n")
	fmt.Fprintf(&b, "kmip_adapter_job_last_update_time_seconds{%s} %d\n", l, now.Unix())
	tmp, err := os.CreateTemp(filepath.Dir(j.path), "."+filepath.Base(j.path)+".*")
	if err != nil {
		return fmt.Errorf("progress file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("progress file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("progress file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("progress file: %w", err)
	}
	if err := os.Rename(tmp.Name(), j.path); err != nil {
		return fmt.Errorf("progress file: %w", err)
	}
	return nil
}
