// Package topology runs the service as separate processes on one machine —
// a Temporal server (`onboarding temporal`), an SMTP capture server
// (`onboarding mailbox`), workers and an API — so that the load generator
// and the fault tests can measure, kill and restart each one.
package topology

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/secret"
)

// Proc is one process of the topology.
type Proc struct {
	Name string
	args []string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// PID is the process id, or 0 when it is not running.
func (p *Proc) PID() int {
	if p.cmd == nil || p.cmd.Process == nil || !p.Running() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Start runs the process, appending its output to its log file.
func (p *Proc) Start() error {
	if p.Running() {
		return nil
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to 30 s, then kills.
func (p *Proc) Stop() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.Kill()
	}
}

// Options shape a topology.
type Options struct {
	Bin         string // the onboarding binary
	Dir         string // state and logs
	DatabaseURL string // default: SQLite in Dir
	Workers     int    // default 1
	Env         []string
}

// Topology is the running set of processes.
type Topology struct {
	opts         Options
	Temporal     *Proc
	Mailbox      *Proc
	API          *Proc
	Workers      []*Proc
	TemporalAddr string
	APIURL       string
	MailboxURL   string
	SMTPAddr     string
	MetricsURLs  []string
	AdminToken   string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func addr() (string, error) {
	p, err := freePort()
	if err != nil {
		return "", err
	}
	return "127.0.0.1:" + strconv.Itoa(p), nil
}

// New lays out a topology on free loopback ports; nothing runs yet.
func New(o Options) (*Topology, error) {
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.DatabaseURL == "" {
		o.DatabaseURL = "sqlite://" + filepath.Join(o.Dir, "app.db")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	// A random operator token: api and worker refuse weak ones at start.
	adminToken, _ := secret.NewToken()
	t := &Topology{opts: o, AdminToken: adminToken}
	var ports [5]string
	for i := range ports {
		a, err := addr()
		if err != nil {
			return nil, err
		}
		ports[i] = a
	}
	temporalAddr, uiAddr, smtpAddr, mailboxHTTP, apiAddr := ports[0], ports[1], ports[2], ports[3], ports[4]
	t.TemporalAddr, t.SMTPAddr = temporalAddr, smtpAddr
	t.APIURL, t.MailboxURL = "http://"+apiAddr, "http://"+mailboxHTTP
	smtpHost, smtpPort, _ := net.SplitHostPort(smtpAddr)
	base := append(os.Environ(),
		"DATA_DIR="+o.Dir,
		"TEMPORAL_ADDRESS="+temporalAddr,
		"TEMPORAL_UI_ADDR="+uiAddr,
		"DEV_SMTP_ADDR="+smtpAddr,
		"DATABASE_URL="+o.DatabaseURL,
		"SMTP_HOST="+smtpHost,
		"SMTP_PORT="+smtpPort,
		"PAYLOAD_ENCRYPTION_KEYS="+codec.NewKeySpec("topology"),
		"ADMIN_TOKEN="+t.AdminToken,
		"PUBLIC_BASE_URL="+t.APIURL,
		"RATE_LIMITS=off",
		"LOG_LEVEL=warn",
		"TEMPORAL_GRPC_COMPRESSION=none",
	)
	base = append(base, o.Env...)
	proc := func(name string, env []string, args ...string) *Proc {
		return &Proc{Name: name, args: append([]string{o.Bin}, args...), env: env, log: filepath.Join(o.Dir, name+".log")}
	}
	t.Temporal = proc("temporal", base, "temporal")
	t.Mailbox = proc("mailbox", base, "mailbox", "--http", mailboxHTTP)
	t.API = proc("api", slices.Concat(base, []string{"HTTP_ADDR=" + apiAddr}), "api")
	t.MetricsURLs = []string{t.APIURL + "/metrics"}
	for i := 0; i < o.Workers; i++ {
		m, err := addr()
		if err != nil {
			return nil, err
		}
		t.Workers = append(t.Workers, proc("worker-"+strconv.Itoa(i), slices.Concat(base, []string{"METRICS_ADDR=" + m}), "worker"))
		t.MetricsURLs = append(t.MetricsURLs, "http://"+m+"/metrics")
	}
	return t, nil
}

// Start runs every process and waits until the API is ready.
func (t *Topology) Start(ctx context.Context) error {
	if err := t.Temporal.Start(); err != nil {
		return err
	}
	if err := WaitTCP(ctx, t.TemporalAddr, time.Minute); err != nil {
		return fmt.Errorf("temporal: %w (see %s)", err, t.Temporal.log)
	}
	if err := t.Mailbox.Start(); err != nil {
		return err
	}
	if err := WaitHTTP(ctx, t.MailboxURL+"/readyz", 30*time.Second); err != nil {
		return fmt.Errorf("mailbox: %w (see %s)", err, t.Mailbox.log)
	}
	// The API migrates the database; the workers start after it.
	if err := t.API.Start(); err != nil {
		return err
	}
	if err := WaitHTTP(ctx, t.APIURL+"/readyz", time.Minute); err != nil {
		return fmt.Errorf("api: %w (see %s)", err, t.API.log)
	}
	for _, w := range t.Workers {
		if err := w.Start(); err != nil {
			return err
		}
	}
	return nil
}

// Close stops everything.
func (t *Topology) Close() {
	for _, w := range t.Workers {
		w.Stop()
	}
	t.API.Stop()
	t.Mailbox.Stop()
	t.Temporal.Stop()
}

// DatabaseURL is the application database the processes use.
func (t *Topology) DatabaseURL() string { return t.opts.DatabaseURL }

// Log returns a process's log file path.
func (p *Proc) Log() string { return p.log }

// WaitTCP waits until addr accepts connections.
func WaitTCP(ctx context.Context, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitHTTP waits until url answers 200.
func WaitHTTP(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
			err = errors.New(res.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
