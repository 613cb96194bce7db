package integration

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// softHSMModule is the PKCS#11 module of Debian's softhsm2 package.
	softHSMModule = "/usr/lib/softhsm/libsofthsm2.so"
	// systemPython is Debian's interpreter, the one python3-pykmip is
	// installed for (a python3 earlier on PATH may lack the kmip module).
	systemPython = "/usr/bin/python3"
	// requiredEnv, set to 1, turns a missing peer into a failure.
	requiredEnv = "KMIP_INTEGRATION_REQUIRED"

	// readyMessage is the log message of a server that accepts clients;
	// its "addr" field is the listener's real address.
	readyMessage = "kmip listener ready"
	// stoppedMessage is the last log message of a server that drained.
	stoppedMessage = "stopped"

	startTimeout = 30 * time.Second
	// stopTimeout is above the default server.shutdown_timeout (30s).
	stopTimeout = 40 * time.Second
	// cmdTimeout bounds one run of a CLI command or of the PyKMIP driver.
	cmdTimeout = 60 * time.Second
)

// suite is the state shared by every test of the binary: the binaries
// built once, and the server most tests talk to, started on first use.
var suite struct {
	tmp      string
	binDir   string
	buildErr error

	mainOnce sync.Once
	main     *server
	mainErr  error
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

// runSuite builds the binaries, runs the tests, then stops the shared
// server (if a test started it) with SIGTERM and checks that it drained
// and exited 0.
func runSuite(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "kmip-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	suite.tmp = tmp
	suite.binDir = filepath.Join(tmp, "bin")
	suite.buildErr = buildBinaries(suite.binDir)

	code := m.Run()

	if suite.main != nil {
		took, err := suite.main.stopCleanly()
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "--- FAIL: TestMain: shared server: %v\n", err)
			if code == 0 {
				code = 1
			}
		case testing.Verbose():
			fmt.Printf("shared server: stopped by SIGTERM in %s, exit 0\n", took.Round(time.Millisecond))
		}
	}
	return code
}

// buildBinaries builds kmip-adapter and kmipctl into dir with the go
// command that runs the tests, so the tests exercise the real binaries.
func buildBinaries(dir string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("go command not found on PATH: %w", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("module root not found above the integration directory: %w", err)
	}
	cmd := exec.Command(goCmd, "build", "-o", dir+string(filepath.Separator), "./cmd/kmip-adapter", "./cmd/kmipctl")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/...: %w\n%s", err, out)
	}
	return nil
}

// bin returns the path of a built binary, failing the test if the build
// failed.
func bin(t testing.TB, name string) string {
	t.Helper()
	if suite.buildErr != nil {
		t.Fatalf("building the binaries failed: %v", suite.buildErr)
	}
	return filepath.Join(suite.binDir, name)
}

// skipOrFail skips the test because a peer is missing, or fails it when
// KMIP_INTEGRATION_REQUIRED=1 says every peer must be there.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(requiredEnv) == "1" {
		t.Fatalf("%s (%s=1: the integration peers are required)", msg, requiredEnv)
	}
	t.Skipf("%s: skipping (set %s=1 to make this a failure)", msg, requiredEnv)
}

// requireSoftHSM skips (or fails) the test when SoftHSM2 is not installed.
func requireSoftHSM(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(softHSMModule); err != nil {
		skipOrFail(t, "SoftHSM2 module %s not found (apt-get install softhsm2)", softHSMModule)
	}
}

var pykmipAvailable = sync.OnceValue(func() error {
	out, err := exec.Command(systemPython, "-c", "import kmip.pie.client").CombinedOutput()
	if err != nil {
		if msg := strings.TrimSpace(string(out)); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return fmt.Errorf("%s with the kmip module is not available (apt-get install python3-pykmip): %w", systemPython, err)
	}
	return nil
})

// requirePyKMIP skips (or fails) the test when Debian's PyKMIP is missing.
func requirePyKMIP(t testing.TB) {
	t.Helper()
	if err := pykmipAvailable(); err != nil {
		skipOrFail(t, "%v", err)
	}
}

// mainServer returns the server shared by the tests, preparing its
// development directory and starting it on first use. It runs with
// --log-level debug so that the tests can check what the log holds.
func mainServer(t testing.TB) *server {
	t.Helper()
	requireSoftHSM(t)
	adapter, ctl := bin(t, "kmip-adapter"), bin(t, "kmipctl")
	suite.mainOnce.Do(func() {
		dir := filepath.Join(suite.tmp, "dev")
		if err := devInit(ctl, dir); err != nil {
			suite.mainErr = err
			return
		}
		suite.main, suite.mainErr = startServer(adapter, dir, nil, "--log-level", "debug")
	})
	if suite.mainErr != nil {
		t.Fatalf("shared server: %v", suite.mainErr)
	}
	return suite.main
}

// devInit prepares a development directory as a user does.
func devInit(kmipctl, dir string) error {
	cmd := exec.Command(kmipctl, "dev", "init", "--dir", dir, "--listen", "127.0.0.1:0")
	cmd.Env = environ()
	out, err := runWithTimeout(cmd, cmdTimeout)
	if err != nil {
		return fmt.Errorf("kmipctl dev init --dir %s: %w\n%s", dir, err, out)
	}
	return nil
}

// environ is the tests' environment without KMIP_ADAPTER_* variables,
// which would change the configuration of the servers they start.
func environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KMIP_ADAPTER_") {
			out = append(out, kv)
		}
	}
	return out
}

// runWithTimeout runs cmd and returns its combined output, killing it
// after timeout.
func runWithTimeout(cmd *exec.Cmd, timeout time.Duration) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := waitWithTimeout(cmd, timeout)
	return out.Bytes(), err
}

// runSplit runs cmd and returns its standard output and error apart,
// killing it after timeout.
func runSplit(cmd *exec.Cmd, timeout time.Duration) (stdout, stderr []byte, err error) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = waitWithTimeout(cmd, timeout)
	return out.Bytes(), errOut.Bytes(), err
}

// waitWithTimeout starts cmd and waits for it, killing it after timeout.
func waitWithTimeout(cmd *exec.Cmd, timeout time.Duration) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("still running after %s: killed", timeout)
	}
}

// server is a running `kmip-adapter serve` process.
type server struct {
	dir  string // its development directory (config.yaml, pki/, data/)
	addr string // the listener's real address, from the ready log line
	cmd  *exec.Cmd
	log  *logBuffer // stderr: the JSON log

	exited  chan struct{} // closed when the process has exited
	waitErr error         // the result of Wait, once exited is closed
}

// startServer runs `kmip-adapter serve --config DIR/config.yaml --listen
// 127.0.0.1:0 --log-format json` plus args, with env added to the
// environment, and waits for the ready line to learn the address.
func startServer(adapter, dir string, env []string, args ...string) (*server, error) {
	argv := append([]string{"serve", "--config", filepath.Join(dir, "config.yaml"),
		"--listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	s := &server{
		dir:    dir,
		log:    newLogBuffer(),
		exited: make(chan struct{}),
	}
	s.cmd = exec.Command(adapter, argv...)
	s.cmd.Env = append(environ(), env...)
	s.cmd.Stderr = s.log
	s.cmd.Stdout = s.log
	s.cmd.SysProcAttr = childProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", adapter, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	select {
	case s.addr = <-s.log.ready:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("kmip-adapter %s exited before %q (%v); its output:\n%s",
			strings.Join(argv, " "), readyMessage, s.waitErr, s.log.String())
	case <-time.After(startTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return nil, fmt.Errorf("kmip-adapter %s logged no %q within %s; its output:\n%s",
			strings.Join(argv, " "), readyMessage, startTimeout, s.log.String())
	}
}

// stop sends SIGTERM and waits up to timeout for the process to exit. It
// returns the exit code and how long the exit took; after timeout the
// process is killed and an error returned.
func (s *server) stop(timeout time.Duration) (code int, took time.Duration, err error) {
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, 0, fmt.Errorf("SIGTERM: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(timeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return -1, time.Since(start), fmt.Errorf("still running %s after SIGTERM: killed; its output:\n%s", timeout, s.log.String())
	}
	return s.cmd.ProcessState.ExitCode(), time.Since(start), nil
}

// stopCleanly stops the server and checks that it exited 0 after logging
// that it stopped. It returns how long the exit took.
func (s *server) stopCleanly() (time.Duration, error) {
	code, took, err := s.stop(stopTimeout)
	if err != nil {
		return took, err
	}
	if code != 0 {
		return took, fmt.Errorf("exit code %d after SIGTERM (want 0); its output:\n%s", code, s.log.String())
	}
	if !s.logged(stoppedMessage) {
		return took, fmt.Errorf("exited 0 in %s but logged no %q; its output:\n%s", took.Round(time.Millisecond), stoppedMessage, s.log.String())
	}
	return took, nil
}

// pki returns the path of a file of the server's development PKI.
func (s *server) pki(name string) string {
	return filepath.Join(s.dir, "pki", name)
}

// storePath is the bbolt file of the server's object store.
func (s *server) storePath() string {
	return filepath.Join(s.dir, "data", "store.db")
}

// clientTLS is what a well-configured Go client uses: the development
// client certificate, and the development CA as the only root.
func (s *server) clientTLS(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(s.pki("client.crt"), s.pki("client.key"))
	if err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      s.roots(t),
		MinVersion:   tls.VersionTLS12,
	}
}

// roots is a pool holding the development CA.
func (s *server) roots(t testing.TB) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(s.pki("ca.crt"))
	if err != nil {
		t.Fatalf("CA certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", s.pki("ca.crt"))
	}
	return pool
}

// logged reports whether the server logged a line with this message.
func (s *server) logged(message string) bool {
	for _, l := range s.log.entries() {
		if l["message"] == message {
			return true
		}
	}
	return false
}

// loggedSoon is logged for a line the server writes just before an
// answer the test has read: the test reads the server's output through a
// pipe and a goroutine of its own, which may run after the answer
// arrived, so it waits a little for the line.
func (s *server) loggedSoon(message string) bool {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s.logged(message) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// logBuffer collects a server's output and spots the ready line.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int         // bytes of buf already looked at for the ready line
	ready   chan string // receives the listener address once
	found   bool
}

func newLogBuffer() *logBuffer {
	return &logBuffer{ready: make(chan string, 1)}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	for !b.found {
		rest := b.buf.Bytes()[b.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		line := rest[:i]
		b.scanned += i + 1
		var entry struct {
			Message string `json:"message"`
			Addr    string `json:"addr"`
		}
		if json.Unmarshal(line, &entry) == nil && entry.Message == readyMessage && entry.Addr != "" {
			b.found = true
			b.ready <- entry.Addr
		}
	}
	return len(p), nil
}

// String returns everything the server wrote so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// entries returns the JSON log lines written so far, decoded (lines that
// are not JSON are left out).
func (b *logBuffer) entries() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(b.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil {
			out = append(out, entry)
		}
	}
	return out
}

// handedOut records the key material that the server handed to clients
// during this run, so that the at-rest and log checks can look for all of
// it.
var handedOut struct {
	mu   sync.Mutex
	keys map[string][]byte // unique identifier -> material
}

// recordKey remembers material that the server returned for uid.
func recordKey(uid string, material []byte) {
	handedOut.mu.Lock()
	defer handedOut.mu.Unlock()
	if handedOut.keys == nil {
		handedOut.keys = map[string][]byte{}
	}
	handedOut.keys[uid] = bytes.Clone(material)
}

// recordedKeys returns a copy of every material recorded so far.
func recordedKeys() map[string][]byte {
	handedOut.mu.Lock()
	defer handedOut.mu.Unlock()
	out := make(map[string][]byte, len(handedOut.keys))
	for uid, m := range handedOut.keys {
		out[uid] = bytes.Clone(m)
	}
	return out
}
