// Package mailer sends the service's mail over SMTP with go-mail, and renders
// the invitation, reminder and password-reset messages.
package mailer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/wneessen/go-mail"
)

// Message is one mail to send, in plain text and HTML.
type Message struct {
	To        string
	Subject   string
	Text      string
	HTML      string
	MessageID string // without angle brackets; receivers may drop duplicates by it
}

// Sender sends messages.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Config is where and how to send.
type Config struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      string // none, starttls or tls
	From     string
	Timeout  time.Duration
}

// SMTP sends each message over a new SMTP connection.
type SMTP struct{ cfg Config }

// NewSMTP returns a Sender for the server in cfg.
func NewSMTP(cfg Config) *SMTP {
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	return &SMTP{cfg: cfg}
}

// PermanentError is a refusal the server means for good (a 5xx answer):
// sending the same message again will not help.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Send delivers m. A 5xx refusal comes back as *PermanentError; anything
// else (no connection, 4xx) may succeed later. Errors never quote an email
// address: servers put the recipient in their refusals ("550 5.1.1
// <kim@example.com>: no such user"), and the error goes on to the logs, the
// sign-up's history and the operators' screens.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	err := s.send(ctx, m)
	if err == nil {
		return nil
	}
	// A new error with the cleaned text, wrapping nothing: error chains
	// are printed whole (Temporal's failures carry every cause), so the
	// original must not ride along.
	clean := errors.New(addressRe.ReplaceAllString(err.Error(), "<address>"))
	var pe *PermanentError
	if errors.As(err, &pe) {
		return &PermanentError{Err: clean}
	}
	return clean
}

// addressRe matches what looks like an email address (a dotted domain, as
// every address the service mails has), bracketed or not; Message-IDs
// (<invite-…@onboarding>) are left alone.
var addressRe = regexp.MustCompile(`[^\s<>()\[\]"',;:]+@[^\s<>()\[\]"',;:.]+(\.[^\s<>()\[\]"',;:.]+)+`)

func (s *SMTP) send(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return &PermanentError{Err: fmt.Errorf("mailer: from %q: %w", s.cfg.From, err)}
	}
	if err := msg.To(m.To); err != nil {
		return &PermanentError{Err: fmt.Errorf("mailer: to: %w", err)}
	}
	msg.Subject(m.Subject)
	if m.MessageID != "" {
		msg.SetMessageIDWithValue(m.MessageID)
	} else {
		msg.SetMessageID()
	}
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	opts := []mail.Option{mail.WithPort(s.cfg.Port), mail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	c, err := mail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return &PermanentError{Err: fmt.Errorf("mailer: %w", err)}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return &PermanentError{Err: fmt.Errorf("mailer: %w", err)}
		}
		return fmt.Errorf("mailer: %w", err)
	}
	return nil
}
