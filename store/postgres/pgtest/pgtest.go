// Package pgtest starts a private PostgreSQL server for tests: initdb in a
// temporary directory, the server on a free 127.0.0.1 port (TCP only, no
// Unix socket), trust authentication for the "postgres" superuser, and no
// fsync (a test database need not survive a power cut). Stop and Start
// take it down and bring it back on the same port and data, for tests of
// what a node does while its database is away; Close stops it and removes
// the directory.
//
// It uses Debian's binaries (apt-get install postgresql), found in
// /usr/lib/postgresql/<version>/bin, or in the directory named by the
// environment variable PGTEST_BIN. When the tests run as root the server
// runs as the "postgres" user, since PostgreSQL refuses to run as root.
//
// It is a normal (non-test) package so that the store's tests and the
// integration tests share it; only tests should import it.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinEnv names a directory holding initdb and postgres, used instead of
// the newest /usr/lib/postgresql/*/bin.
const BinEnv = "PGTEST_BIN"

// ErrNotInstalled means no PostgreSQL server binaries were found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries not found (apt-get install postgresql, or set " + BinEnv + ")")

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 30 * time.Second
)

// Bin returns the directory of the PostgreSQL server binaries.
func Bin() (string, error) {
	if dir := os.Getenv(BinEnv); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinEnv, dir, ErrNotInstalled)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first (numerically: 9.6 < 15 < 16).
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

func version(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

// Server is a running (or stopped) private PostgreSQL server.
type Server struct {
	bin  string
	root string // temporary directory: data/ and the log
	port int
	cred *syscall.Credential // nil: run as the current user

	mu  sync.Mutex
	run *run // nil when stopped
	log *syncBuffer
}

// run is one start of the server process.
type run struct {
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed
}

// Start initializes a database cluster in a new temporary directory and
// starts the server. Call Close when done.
func Start() (*Server, error) {
	bin, err := Bin()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root needs the postgres user (made by the postgresql package): %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parents are private to the test's user, and the
	// server may run as another one.
	if s.root, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, err
	}
	if err := s.init(); err != nil {
		_ = os.RemoveAll(s.root)
		return nil, err
	}
	// A port found free may be taken before the server binds it: try a
	// few.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err == nil {
			if err = s.Start(); err == nil {
				return s, nil
			}
		}
		if attempt == 3 {
			_ = os.RemoveAll(s.root)
			return nil, err
		}
	}
}

func (s *Server) dataDir() string { return filepath.Join(s.root, "data") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.root
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	return cmd
}

func (s *Server) init() error {
	if s.cred != nil {
		if err := os.Chown(s.root, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return err
		}
	}
	cmd := s.command("initdb", "-D", s.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// Start starts the server (again, after Stop) and waits until it accepts
// connections.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return errors.New("pgtest: already running")
	}
	s.log = &syncBuffer{}
	cmd := s.command("postgres", "-D", s.dataDir(),
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=128MB",
		"-c", "log_min_messages=warning",
	)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	r := &run{cmd: cmd, exited: make(chan struct{})}
	go func() {
		r.waitErr = cmd.Wait()
		close(r.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			s.run = r
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("postgres exited at start (%v):\n%s", r.waitErr, s.log.String())
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-r.exited
			return fmt.Errorf("postgres did not accept connections within %s (%v):\n%s", startTimeout, err, s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (fast shutdown: open sessions are ended)
// and waits for it to exit. Stopping a stopped server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	r := s.run
	s.run = nil
	s.mu.Unlock()
	if r == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-r.exited:
		return nil
	case <-time.After(stopTimeout):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
		return fmt.Errorf("postgres still running %s after SIGINT: killed", stopTimeout)
	}
}

// Close stops the server and removes its directory.
func (s *Server) Close() error {
	err := s.Stop()
	if rmErr := os.RemoveAll(s.root); err == nil {
		err = rmErr
	}
	return err
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Log returns what the server wrote since it was last started.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// DSN is the connection string of a database of the server, with params
// (for example "search_path" or "application_name") added.
func (s *Server) DSN(database string, params ...string) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.User("postgres"),
		Host:   net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)),
		Path:   "/" + database,
	}
	q := url.Values{"sslmode": {"disable"}}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// CreateDatabase makes a new empty database and returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := s.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return s.DSN(name), nil
}

// CreateSchema makes a new empty schema in database "postgres" and returns
// a DSN whose search_path is that schema: a fresh store at the cost of one
// statement.
func (s *Server) CreateSchema(ctx context.Context, name string) (string, error) {
	if err := s.Exec(ctx, "postgres", "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return s.DSN("postgres", "search_path", name), nil
}

// Exec runs SQL statements in a database of the server.
func (s *Server) Exec(ctx context.Context, database, sql string) error {
	conn, err := pgx.Connect(ctx, s.DSN(database))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer safe for the server's two output streams
// and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
