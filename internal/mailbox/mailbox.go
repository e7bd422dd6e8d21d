// Package mailbox is dev mode's SMTP capture server: it receives mail over
// real SMTP and keeps it (in a JSON-lines file under DATA_DIR, so it survives
// a restart) for GET /dev/mailbox. Tests use it as their SMTP peer, and can
// make it refuse mail to see how the service copes.
package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one captured mail.
type Message struct {
	From       string    `json:"from"`
	To         []string  `json:"to"`
	Subject    string    `json:"subject"`
	Text       string    `json:"text"`
	HTML       string    `json:"html"`
	MessageID  string    `json:"message_id"`
	ReceivedAt time.Time `json:"received_at"`
}

// Store keeps messages in memory and, when it has a path, appends each one
// to that file.
type Store struct {
	mu   sync.Mutex
	path string
	msgs []Message
	byTo map[string][]int // lower-cased recipient → indexes into msgs
	subs []chan struct{}
}

// Open loads the messages kept at path ("" keeps them in memory only).
func Open(path string) (*Store, error) {
	s := &Store{path: path, byTo: map[string][]int{}}
	if path == "" {
		return s, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		var m Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			// A line cut short by a crash: keep what came before.
			continue
		}
		s.keep(m)
	}
	return s, nil
}

// Add keeps a message.
func (s *Store) Add(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path != "" {
		line, err := json.Marshal(m)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(s.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return fmt.Errorf("mailbox: %w", err)
		}
		_, werr := f.Write(append(line, '\n'))
		serr := f.Sync()
		cerr := f.Close()
		if err := errors.Join(werr, serr, cerr); err != nil {
			return fmt.Errorf("mailbox: %w", err)
		}
	}
	s.keep(m)
	for _, c := range s.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Store) keep(m Message) {
	s.msgs = append(s.msgs, m)
	for _, to := range m.To {
		k := strings.ToLower(strings.Trim(to, "<> "))
		s.byTo[k] = append(s.byTo[k], len(s.msgs)-1)
	}
}

// ListTo returns the messages to one recipient, newest first.
func (s *Store) ListTo(addr string) []Message {
	s.mu.Lock()
	idx := s.byTo[strings.ToLower(strings.TrimSpace(addr))]
	out := make([]Message, 0, len(idx))
	for i := len(idx) - 1; i >= 0; i-- {
		out = append(out, s.msgs[idx[i]])
	}
	s.mu.Unlock()
	return out
}

// List returns the messages, newest first.
func (s *Store) List() []Message {
	s.mu.Lock()
	out := slices.Clone(s.msgs)
	s.mu.Unlock()
	slices.Reverse(out)
	return out
}

// waitFor waits up to d for mail to addr.
func (s *Store) waitFor(ctx context.Context, addr string, d time.Duration) []Message {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs = append(s.subs, c)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.subs = slices.DeleteFunc(s.subs, func(x chan struct{}) bool { return x == c })
		s.mu.Unlock()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if msgs := s.ListTo(addr); len(msgs) > 0 {
			return msgs
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			return nil
		case <-c:
		}
	}
}

// Server is an SMTP server that captures into a Store.
type Server struct {
	store  *Store
	smtp   *smtp.Server
	ln     net.Listener
	mu     sync.Mutex
	refuse *smtp.SMTPError
	log    *slog.Logger
}

// Listen starts an SMTP server on addr (host:port; port 0 picks one).
func Listen(addr string, store *Store, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mailbox: listen %s: %w", addr, err)
	}
	if logger == nil {
		logger = slog.Default()
	}
	srv := &Server{store: store, ln: ln, log: logger}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{srv: srv}, nil
	}))
	s.Domain = "localhost"
	s.MaxMessageBytes = 10 << 20
	s.MaxRecipients = 50
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	s.AllowInsecureAuth = true
	s.ErrorLog = log.New(io.Discard, "", 0)
	srv.smtp = s
	go func() { _ = s.Serve(ln) }()
	return srv, nil
}

// Addr is where the server listens.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.smtp.Close() }

// Refuse makes the server answer every message with code (4xx: try later,
// 5xx: refused for good) until Accept is called.
func (s *Server) Refuse(code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

// Accept undoes Refuse.
func (s *Server) Accept() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = nil
}

func (s *Server) refusal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != nil {
		return s.refuse
	}
	return nil
}

type session struct {
	srv  *Server
	from string
	to   []string
}

func (s *session) AuthPlain(string, string) error { return nil }
func (s *session) Reset()                         { s.from, s.to = "", nil }
func (s *session) Logout() error                  { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := s.srv.refusal(); err != nil {
		return err
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.srv.refusal(); err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		s.srv.log.Warn("captured mail could not be parsed", "error", err)
		m = Message{Text: string(raw)}
	}
	m.From, m.To, m.ReceivedAt = s.from, slices.Clone(s.to), time.Now().UTC()
	if err := s.srv.store.Add(m); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "cannot store the message now"}
	}
	return nil
}

// Parse reads the subject, Message-ID and the plain-text and HTML bodies of
// a MIME message.
func Parse(raw []byte) (Message, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	m := Message{Subject: subject, MessageID: strings.Trim(msg.Header.Get("Message-Id"), "<>")}
	err = walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &m)
	return m, err
}

func walk(contentType, encoding string, body io.Reader, m *Message) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, m); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, &lineJoiner{r: body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		if m.Text == "" {
			m.Text = string(b)
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = string(b)
		}
	}
	return nil
}

// lineJoiner drops CR and LF so base64 bodies wrapped at 76 columns decode.
type lineJoiner struct{ r io.Reader }

func (l *lineJoiner) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// Handler serves GET /dev/mailbox: the JSON listing of the contract, newest
// first. ?to= keeps one recipient's messages; with it, ?wait=10s holds the
// request until that recipient has mail (or the wait ends), so that tests
// and the load generator need not poll.
func Handler(s *Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msgs []Message
		if to := r.URL.Query().Get("to"); to != "" {
			msgs = s.ListTo(to)
			if wait, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil && len(msgs) == 0 && wait > 0 {
				msgs = s.waitFor(r.Context(), to, min(wait, time.Minute))
			}
		} else {
			msgs = s.List()
		}
		if msgs == nil {
			msgs = []Message{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"messages": msgs})
	})
}

// HTTP serves the mailbox process's HTTP side (`onboarding mailbox`):
// GET /dev/mailbox (Handler over the server's store), GET /readyz, and for
// fault tests on loopback POST /dev/mailbox/refuse?code=4xx|5xx, which makes
// the server answer every message with that code (451: try later, 550:
// refused) until POST /dev/mailbox/accept.
func (s *Server) HTTP() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /dev/mailbox", Handler(s.store))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /dev/mailbox/refuse", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil || code < 400 || code > 599 {
			http.Error(w, "code must be 4xx or 5xx", http.StatusBadRequest)
			return
		}
		s.Refuse(code, "refused for a test")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /dev/mailbox/accept", func(w http.ResponseWriter, _ *http.Request) {
		s.Accept()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
