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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/freeport"
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
	// told is set when Kill, Term or Stop ended the process on purpose.
	told atomic.Bool
	// held is the listeners keeping the ports this process will bind from
	// being given to anyone else (another test's Temporal server asks the
	// kernel for free ports too); Start closes them just before it runs
	// the process.
	held []net.Listener
}

// Crashed reports whether the process ended without being told to: it
// exited on its own or was killed by someone else.
func (p *Proc) Crashed() bool {
	return p.done != nil && !p.Running() && !p.told.Load()
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
	p.release()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	p.told.Store(false)
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return nil
}

// release closes the listeners that held the process's ports.
func (p *Proc) release() {
	freeport.Close(p.held)
	p.held = nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	p.told.Store(true)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Term sends SIGTERM to the process (a graceful stop) without waiting.
func (p *Proc) Term() {
	if p.Running() {
		p.told.Store(true)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// Wait waits up to within for the process to exit, reporting whether it did.
func (p *Proc) Wait(within time.Duration) bool {
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	case <-time.After(within):
		return false
	}
}

// ExitCode is the exit status of a process that has ended (-1 if killed
// by a signal or still running).
func (p *Proc) ExitCode() int {
	if p.cmd == nil || p.cmd.ProcessState == nil || p.Running() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Stop sends SIGTERM and waits up to 30 s, then kills.
func (p *Proc) Stop() {
	if !p.Running() {
		return
	}
	p.told.Store(true)
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
	APIs        int    // default 1
	Env         []string
	// TLS, when set, runs Temporal with mutual TLS and gives the api and
	// workers the client certificate.
	TLS *TLS
}

// TLS is the certificate files of a mutual-TLS Temporal.
type TLS struct {
	ServerCert, ServerKey string // the frontend's (with clientAuth too: the server's own clients use it)
	CA                    string // signed the server's and the clients' certificates
	ClientCert, ClientKey string // the api's and workers'
}

// Topology is the running set of processes.
type Topology struct {
	opts         Options
	uiAddr       string // the Temporal UI's
	Temporal     *Proc
	Mailbox      *Proc
	API          *Proc // APIs[0]
	APIs         []*Proc
	Workers      []*Proc
	TemporalAddr string
	APIURL       string   // APIURLs[0]
	APIURLs      []string // one per api
	// WorkerURLs are the workers' METRICS_ADDR listeners (/readyz, /metrics).
	WorkerURLs  []string
	MailboxURL  string
	SMTPAddr    string
	MetricsURLs []string
	AdminToken  string
}

// addr is a held listener's address.
func addr(l net.Listener) string { return l.Addr().String() }

// New lays out a topology on free loopback ports; nothing runs yet. Each
// process's ports stay held until it starts.
func New(o Options) (*Topology, error) {
	if o.Workers == 0 {
		o.Workers = 1
	}
	if o.APIs == 0 {
		o.APIs = 1
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
	ls, err := freeport.Listen("127.0.0.1", 4+o.APIs+o.Workers)
	if err != nil {
		return nil, err
	}
	// Temporal's frontend and UI, the mailbox's SMTP and HTTP, each api's
	// HTTP_ADDR, each worker's METRICS_ADDR.
	temporal, mailbox, apis, workers := ls[0:2], ls[2:4], ls[4:4+o.APIs], ls[4+o.APIs:]
	t.TemporalAddr, t.uiAddr, t.SMTPAddr = addr(temporal[0]), addr(temporal[1]), addr(mailbox[0])
	t.APIURL, t.MailboxURL = "http://"+addr(apis[0]), "http://"+addr(mailbox[1])
	base := baseEnv(o, t)
	temporalArgs := []string{"temporal"}
	if o.TLS != nil {
		temporalArgs = append(temporalArgs, "--tls-cert", o.TLS.ServerCert, "--tls-key", o.TLS.ServerKey, "--tls-client-ca", o.TLS.CA)
	}
	// proc is a process that holds ports until it starts.
	proc := func(name string, env []string, ports []net.Listener, args ...string) *Proc {
		return &Proc{Name: name, args: append([]string{o.Bin}, args...), env: env, log: filepath.Join(o.Dir, name+".log"), held: ports}
	}
	t.Temporal = proc("temporal", base, temporal, temporalArgs...)
	t.Mailbox = proc("mailbox", base, mailbox, "mailbox", "--http", addr(mailbox[1]))
	for i, l := range apis {
		name, a := "api", addr(l)
		if i > 0 {
			name = "api-" + strconv.Itoa(i)
		}
		t.APIs = append(t.APIs, proc(name, slices.Concat(base, []string{"HTTP_ADDR=" + a}), apis[i:i+1], "api"))
		t.APIURLs = append(t.APIURLs, "http://"+a)
		t.MetricsURLs = append(t.MetricsURLs, "http://"+a+"/metrics")
	}
	t.API = t.APIs[0]
	for i, l := range workers {
		m := addr(l)
		t.Workers = append(t.Workers, proc("worker-"+strconv.Itoa(i), slices.Concat(base, []string{"METRICS_ADDR=" + m}), workers[i:i+1], "worker"))
		t.MetricsURLs = append(t.MetricsURLs, "http://"+m+"/metrics")
		t.WorkerURLs = append(t.WorkerURLs, "http://"+m)
	}
	return t, nil
}

// baseEnv is the environment every process of the topology starts with:
// its addresses, a random payload key and operator token, quiet logs, and
// none of the developer's own Temporal settings.
func baseEnv(o Options, t *Topology) []string {
	smtpHost, smtpPort, _ := net.SplitHostPort(t.SMTPAddr)
	base := append(os.Environ(),
		"DATA_DIR="+o.Dir,
		"TEMPORAL_ADDRESS="+t.TemporalAddr,
		"TEMPORAL_UI_ADDR="+t.uiAddr,
		"DEV_SMTP_ADDR="+t.SMTPAddr,
		"DATABASE_URL="+o.DatabaseURL,
		"SMTP_HOST="+smtpHost,
		"SMTP_PORT="+smtpPort,
		"PAYLOAD_ENCRYPTION_KEYS="+codec.NewKeySpec("topology"),
		"ADMIN_TOKEN="+t.AdminToken,
		"PUBLIC_BASE_URL="+t.APIURL,
		"RATE_LIMITS=off",
		"LOG_LEVEL=warn",
		"TEMPORAL_GRPC_COMPRESSION=none",
		// Not the developer's own Temporal CLI profile or Cloud settings.
		"TEMPORAL_CONFIG_FILE="+os.DevNull, "TEMPORAL_PROFILE=", "TEMPORAL_NAMESPACE=", "TEMPORAL_API_KEY=",
		"TEMPORAL_TLS=", "TEMPORAL_TLS_CLIENT_CERT_PATH=", "TEMPORAL_TLS_CLIENT_KEY_PATH=", "TEMPORAL_TLS_SERVER_CA_CERT_PATH=",
		"TEMPORAL_TLS_CLIENT_CERT_DATA=", "TEMPORAL_TLS_CLIENT_KEY_DATA=", "TEMPORAL_TLS_SERVER_CA_CERT_DATA=", "TEMPORAL_TLS_SERVER_NAME=",
		// A short drain: these processes sit behind no load balancer
		// unless a test puts one there (and sets its own delay).
		"SHUTDOWN_DELAY=200ms",
	)
	if o.TLS != nil {
		base = append(base,
			"TEMPORAL_TLS_CLIENT_CERT_PATH="+o.TLS.ClientCert,
			"TEMPORAL_TLS_CLIENT_KEY_PATH="+o.TLS.ClientKey,
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH="+o.TLS.CA)
	}
	return append(base, o.Env...)
}

// Start runs every process and waits until the API is ready.
func (t *Topology) Start(ctx context.Context) error {
	if err := t.startTemporal(ctx); err != nil {
		return err
	}
	if err := t.Mailbox.Start(); err != nil {
		return err
	}
	if err := poll(ctx, 30*time.Second, t.Mailbox, getOK(ctx, t.MailboxURL+"/readyz")); err != nil {
		return fmt.Errorf("mailbox: %w; its log ends:\n%s", err, logTail(t.Mailbox.log, 20))
	}
	// The first API migrates the database; the others and the workers
	// start after it.
	for i, a := range t.APIs {
		if err := a.Start(); err != nil {
			return err
		}
		if err := poll(ctx, time.Minute, a, getOK(ctx, t.APIURLs[i]+"/readyz")); err != nil {
			return fmt.Errorf("%s: %w; its log ends:\n%s", a.Name, err, logTail(a.log, 20))
		}
	}
	for _, w := range t.Workers {
		if err := w.Start(); err != nil {
			return err
		}
	}
	return nil
}

// startTemporal starts the Temporal process and waits until it says it is
// ready (its frontend and its UI listen). A process that exits first — a
// port chosen free was taken before it bound it — is started again on new
// ports, twice at most; the error quotes the end of its log, which a test's
// temporary directory does not keep.
func (t *Topology) startTemporal(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		before := strings.Count(readLog(t.Temporal.log), temporalReady)
		if err := t.Temporal.Start(); err != nil {
			return err
		}
		err := poll(ctx, time.Minute, t.Temporal, dial(t.TemporalAddr))
		if err == nil {
			err = poll(ctx, 30*time.Second, t.Temporal, func() error {
				if strings.Count(readLog(t.Temporal.log), temporalReady) > before {
					return nil
				}
				return errors.New("no ready line in its log yet")
			})
		}
		if err == nil {
			return nil
		}
		if t.Temporal.Running() || attempt == 3 || ctx.Err() != nil {
			t.Temporal.Kill()
			return fmt.Errorf("temporal: %w; its log ends:\n%s", err, logTail(t.Temporal.log, 20))
		}
		if err := t.moveTemporal(); err != nil {
			return err
		}
	}
}

// temporalReady starts the line `onboarding temporal` prints once its
// frontend and UI listen.
const temporalReady = "temporal ready:"

// moveTemporal gives the Temporal frontend and UI new free ports, in every
// process's environment.
func (t *Topology) moveTemporal() error {
	ls, err := freeport.Listen("127.0.0.1", 2)
	if err != nil {
		return err
	}
	frontend, ui := addr(ls[0]), addr(ls[1])
	t.Temporal.held = ls
	for _, p := range t.Procs() {
		p.env = replaceEnv(p.env, "TEMPORAL_ADDRESS", t.TemporalAddr, frontend)
		p.env = replaceEnv(p.env, "TEMPORAL_UI_ADDR", t.uiAddr, ui)
	}
	t.TemporalAddr, t.uiAddr = frontend, ui
	return nil
}

// replaceEnv sets key to to wherever env sets it to from.
func replaceEnv(env []string, key, from, to string) []string {
	out := slices.Clone(env)
	for i, kv := range out {
		if kv == key+"="+from {
			out[i] = key + "=" + to
		}
	}
	return out
}

// poll calls try every 100 ms until it succeeds, and gives up when within
// has passed (with try's last error), when ctx ends, or as soon as p (if
// any) has exited.
func poll(ctx context.Context, within time.Duration, p *Proc, try func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := try()
		if err == nil {
			return nil
		}
		if p != nil && !p.Running() {
			return fmt.Errorf("%s exited before it was ready: %w", p.Name, err)
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

// dial is a poll step: nil once addr accepts connections.
func dial(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
}

// readLog is a log file's text ("" when it cannot be read).
func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// logTail is the last n lines of a log file.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// WaitWorkers waits until every worker's /readyz answers 200.
func (t *Topology) WaitWorkers(ctx context.Context, within time.Duration) error {
	for i, w := range t.Workers {
		if err := WaitHTTP(ctx, t.WorkerURLs[i]+"/readyz", within); err != nil {
			return fmt.Errorf("%s: %w (see %s)", w.Name, err, w.log)
		}
	}
	return nil
}

// Close stops everything, and lets go of the ports of processes that
// never started.
func (t *Topology) Close() {
	for _, p := range t.Procs() {
		p.release()
	}
	for _, w := range t.Workers {
		w.Stop()
	}
	for _, a := range t.APIs {
		a.Stop()
	}
	t.Mailbox.Stop()
	t.Temporal.Stop()
}

// DatabaseURL is the application database the processes use.
func (t *Topology) DatabaseURL() string { return t.opts.DatabaseURL }

// Log returns a process's log file path.
func (p *Proc) Log() string { return p.log }

// Procs is every process of the topology.
func (t *Topology) Procs() []*Proc {
	return slices.Concat([]*Proc{t.Temporal, t.Mailbox}, t.APIs, t.Workers)
}

// WaitTCP waits until addr accepts connections.
func WaitTCP(ctx context.Context, addr string, within time.Duration) error {
	return poll(ctx, within, nil, dial(addr))
}

// WaitHTTP waits until url answers 200.
func WaitHTTP(ctx context.Context, url string, within time.Duration) error {
	return poll(ctx, within, nil, getOK(ctx, url))
}

// getOK is a poll step: nil once url answers 200.
func getOK(ctx context.Context, url string) func() error {
	return func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return errors.New(res.Status)
		}
		return nil
	}
}
