//go:build unix

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmip-adapter/kmip-adapter/backend/pkcs11"
	"github.com/kmip-adapter/kmip-adapter/cmd/internal/cli"
)

// An HA set for development (kmipctl dev init --hsm-members N): N copies
// of the development token, each in its own token directory and served by
// its own `p11-kit server` process, reached by the adapter through its
// own copy of p11-kit-client.so, the way it reaches a network HSM
// (DESIGN.md section 9). Member K lives in DIR/hsm/K:
//
//	tokens/ softhsm2.conf   the copy of the token and its SoftHSM2 configuration
//	p11-kit-client.so       the member's copy of the client module
//	p11-kit.sock            the server's socket
//	p11-kit-server.pid .log the server's process (its own process group) and output
//	member.json             what `kmipctl dev hsm start K` needs to start it again

// devMember describes one member of a development HA set (member.json).
type devMember struct {
	Member       int    `json:"member"`
	Token        string `json:"token"`
	Provider     string `json:"provider"`      // the SoftHSM2 module the server loads
	SoftHSM2Conf string `json:"softhsm2_conf"` // its configuration (this member's tokens)
	Socket       string `json:"socket"`
	Client       string `json:"client"` // this member's copy of p11-kit-client.so
}

func (m devMember) dir() string     { return filepath.Dir(m.Socket) }
func (m devMember) pidFile() string { return filepath.Join(m.dir(), "p11-kit-server.pid") }
func (m devMember) logFile() string { return filepath.Join(m.dir(), "p11-kit-server.log") }

// uri is the member as backend.pkcs11.members names it.
func (m devMember) uri() string {
	return "pkcs11:token=" + uriEscape(m.Token) + "?module-path=" + uriEscape(m.Client) +
		"&x-server-address=" + uriEscape("unix:path="+m.Socket)
}

// uriEscape percent-encodes what would end a PKCS#11 URI attribute (and
// the comma that splits a list in an environment variable).
func uriEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte("%;?&#, ", c) >= 0 || c < 0x20 || c >= 0x7F {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// p11KitClient finds Debian's p11-kit-client.so.
func p11KitClient() (string, error) {
	for _, pattern := range []string{"/usr/lib/*/pkcs11/p11-kit-client.so", "/usr/lib/pkcs11/p11-kit-client.so", "/usr/lib64/pkcs11/p11-kit-client.so"} {
		if found, _ := filepath.Glob(pattern); len(found) > 0 {
			return found[0], nil
		}
	}
	return "", errors.New("p11-kit-client.so not found: install p11-kit (apt-get install p11-kit p11-kit-modules)")
}

// devHSMSet makes (or keeps) the n members of a development HA set under
// dir/hsm, copying the provisioned token of tokenDir, starts their
// servers, and returns the members' URIs.
func devHSMSet(out io.Writer, dir, tokenDir, provider, token string, n int) ([]string, error) {
	if n > 16 {
		return nil, fmt.Errorf("--hsm-members: %d; at most 16", n)
	}
	client, err := p11KitClient()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("p11-kit"); err != nil {
		return nil, errors.New("p11-kit not found: install it (apt-get install p11-kit)")
	}
	var uris []string
	for k := 1; k <= n; k++ {
		mdir := filepath.Join(dir, "hsm", strconv.Itoa(k))
		m := devMember{Member: k, Token: token, Provider: provider, Socket: filepath.Join(mdir, "p11-kit.sock"),
			Client: filepath.Join(mdir, "p11-kit-client.so")}
		if len(m.Socket) >= 100 {
			return nil, fmt.Errorf("--dir: the socket path %s is too long for a unix socket (%d bytes, at most 99): use a shorter directory", m.Socket, len(m.Socket))
		}
		if err := os.MkdirAll(mdir, 0o700); err != nil {
			return nil, err
		}
		// The token is copied once: every member holds the same keys, as
		// the partitions of a real HA set are clones of one another.
		if _, err := os.Stat(filepath.Join(mdir, "tokens")); errors.Is(err, fs.ErrNotExist) {
			if err := os.CopyFS(filepath.Join(mdir, "tokens"), os.DirFS(filepath.Join(tokenDir, "tokens"))); err != nil {
				return nil, fmt.Errorf("member %d: copy the token: %w", k, err)
			}
		}
		if m.SoftHSM2Conf, err = pkcs11.WriteSoftHSM2Conf(mdir); err != nil {
			return nil, err
		}
		// Its own copy of the client module: the client reads the server
		// address once per loaded module file.
		if err := copyFile(client, m.Client, 0o755); err != nil {
			return nil, fmt.Errorf("member %d: %w", k, err)
		}
		body, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(mdir, "member.json"), append(body, '\n'), 0o600); err != nil {
			return nil, err
		}
		pid, started, err := startMember(m)
		if err != nil {
			return nil, err
		}
		state := "running"
		if started {
			state = "started"
		}
		fmt.Fprintf(out, "hsm      member %d: token %s served by p11-kit server (pid %d, %s) on %s\n", k, token, pid, state, m.Socket)
		uris = append(uris, m.uri())
	}
	return uris, nil
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(to); err == nil && string(old) == string(b) {
		return nil
	}
	return os.WriteFile(to, b, mode)
}

// serverPID returns the pid of the member's running server, or 0. A pid
// counts only if that process is alive (not a zombie) and is the server
// of this member's socket.
func serverPID(m devMember) int {
	b, err := os.ReadFile(m.pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		// pid (comm) STATE ...: comm may hold spaces, the state follows
		// the last parenthesis.
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return 0
		}
	} else if syscall.Kill(pid, 0) != nil {
		return 0
	}
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && !strings.Contains(string(cmdline), m.Socket) {
		return 0 // the pid was reused
	}
	return pid
}

// startMember starts the member's p11-kit server in its own process
// group, detached from kmipctl, and waits until its socket answers. It
// reports the server's pid and whether it had to start it.
func startMember(m devMember) (int, bool, error) {
	if pid := serverPID(m); pid != 0 {
		return pid, false, nil
	}
	p11kit, err := exec.LookPath("p11-kit")
	if err != nil {
		return 0, false, errors.New("p11-kit not found: install it (apt-get install p11-kit)")
	}
	_ = os.Remove(m.Socket) // a stale socket of a killed server
	logf, err := os.OpenFile(m.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, false, err
	}
	defer logf.Close()
	cmd := exec.Command(p11kit, "server", "-f", "-n", m.Socket, "--provider", m.Provider, "pkcs11:token="+m.Token)
	cmd.Env = append(filterEnv(os.Environ(), "SOFTHSM2_CONF=", "P11_KIT_SERVER_ADDRESS="), "SOFTHSM2_CONF="+m.SoftHSM2Conf)
	cmd.Stdout, cmd.Stderr = logf, logf                  // never kmipctl's own output: whoever waits for it would wait for the server
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // its own session and process group
	if err := cmd.Start(); err != nil {
		return 0, false, fmt.Errorf("member %d: start p11-kit server: %w", m.Member, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(m.pidFile(), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		return 0, false, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("unix", m.Socket, time.Second); err == nil {
			_ = c.Close()
			return pid, true, nil
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(m.logFile())
			return 0, false, fmt.Errorf("member %d: p11-kit server exited (%v); its log %s:\n%s", m.Member, err, m.logFile(), tail(log, 1000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			return 0, false, fmt.Errorf("member %d: p11-kit server did not listen on %s within 10s", m.Member, m.Socket)
		}
	}
}

// stopMember ends the member's server and every process of its group
// (the p11-kit-remote children serving the connections): the adapter's
// calls on it then answer CKR_DEVICE_ERROR, as an unreachable Luna does.
func stopMember(m devMember) (int, error) {
	pid := serverPID(m)
	if pid == 0 {
		return 0, nil
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for serverPID(m) != 0 {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // children that outlived their parent
	_ = os.Remove(m.pidFile())
	return pid, nil
}

func filterEnv(env []string, drop ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		keep := true
		for _, d := range drop {
			if strings.HasPrefix(kv, d) {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// devHSMCmd is `kmipctl dev hsm`: the servers of a development HA set.
func devHSMCmd() *cobra.Command {
	var configPath string
	hsm := &cobra.Command{
		Use:   "hsm",
		Short: "Stop and start the members of a development HA set (kmipctl dev init --hsm-members N)",
		Long: `hsm controls the p11-kit servers of a development HA set, so that failover can
be watched: stopping a member's server makes the adapter's calls on it fail
with CKR_DEVICE_ERROR (as an unreachable network HSM does); the adapter takes
the member out and serves from the others, and takes it back by itself once
the server is started again. Members are numbered from 1, as in
backend.pkcs11.members; MEMBER may be "all".

  kmipctl --config .dev/config.yaml dev hsm stop 1
  kmipctl --config .dev/config.yaml dev hsm start 1
  kmipctl --config .dev/config.yaml dev hsm status`,
	}
	hsm.PersistentFlags().StringVar(&configPath, "config", "", "configuration of the development environment (kmipctl dev init --hsm-members N)")

	members := func(arg string) ([]devMember, error) {
		all, err := devMembers(configPath)
		if err != nil {
			return nil, err
		}
		if arg == "" || arg == "all" {
			return all, nil
		}
		k, err := strconv.Atoi(arg)
		if err != nil || k < 1 || k > len(all) {
			return nil, fmt.Errorf("MEMBER: %q is not a member number from 1 to %d, or all", arg, len(all))
		}
		return all[k-1 : k], nil
	}
	stop := &cobra.Command{
		Use:   "stop MEMBER",
		Short: "Kill a member's p11-kit server (its whole process group)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := members(args[0])
			if err != nil {
				return err
			}
			for _, m := range ms {
				pid, err := stopMember(m)
				if err != nil {
					return err
				}
				if pid == 0 {
					fmt.Fprintf(cmd.OutOrStdout(), "member %d: not running\n", m.Member)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "member %d: stopped p11-kit server (pid %d)\n", m.Member, pid)
				}
			}
			return nil
		},
	}
	start := &cobra.Command{
		Use:   "start MEMBER",
		Short: "Start a member's p11-kit server again; the adapter takes the member back by itself",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ms, err := members(args[0])
			if err != nil {
				return err
			}
			for _, m := range ms {
				pid, started, err := startMember(m)
				if err != nil {
					return err
				}
				if started {
					fmt.Fprintf(cmd.OutOrStdout(), "member %d: started p11-kit server (pid %d) on %s\n", m.Member, pid, m.Socket)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "member %d: already running (pid %d)\n", m.Member, pid)
				}
			}
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "List the members and whether their servers run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ms, err := members("all")
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "MEMBER\tTOKEN\tSERVER\tSOCKET")
			for _, m := range ms {
				state := "stopped"
				if pid := serverPID(m); pid != 0 {
					state = fmt.Sprintf("running (pid %d)", pid)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", m.Member, m.Token, state, m.Socket)
			}
			return w.Flush()
		},
	}
	hsm.AddCommand(stop, start, status)
	return hsm
}

// devMembers reads the development members that the configuration names:
// each member URI's server address leads to its directory and its
// member.json.
func devMembers(configPath string) ([]devMember, error) {
	if configPath == "" {
		return nil, errors.New("--config: required (the configuration written by kmipctl dev init --hsm-members N)")
	}
	cfg, err := cli.LoadConfig(configPath, nil, nil)
	if err != nil {
		return nil, err
	}
	set, err := cfg.Backend.PKCS11.MemberSet()
	if err != nil {
		return nil, err
	}
	var out []devMember
	for i, s := range set {
		sock, ok := strings.CutPrefix(s.ServerAddress, "unix:path=")
		if !ok {
			return nil, fmt.Errorf("member %d (%s) is not a p11-kit member of a development HA set (made by kmipctl dev init --hsm-members N)", i+1, s.URI)
		}
		body, err := os.ReadFile(filepath.Join(filepath.Dir(sock), "member.json"))
		if err != nil {
			return nil, fmt.Errorf("member %d: %w", i+1, err)
		}
		var m devMember
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("member %d: %s: %w", i+1, filepath.Join(filepath.Dir(sock), "member.json"), err)
		}
		out = append(out, m)
	}
	return out, nil
}
