package temporalconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/net/http/httpproxy"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrMisconfigured marks an error no amount of waiting mends.
var ErrMisconfigured = errors.New("temporal connection misconfigured")

// misconfigured is a one-line error naming the setting at fault.
type misconfigured struct{ msg string }

func (m *misconfigured) Error() string        { return m.msg }
func (m *misconfigured) Is(target error) bool { return target == ErrMisconfigured }

func fatalf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &misconfigured{msg: strings.Join(strings.Fields(msg), " ")}
}

// Dial connects with opts (the settings' options with the caller's layers),
// trying again every second for up to wait while the server is unreachable,
// and failing at once with the setting's name when TLS, a certificate or
// the API key is wrong.
func Dial(ctx context.Context, s *Settings, opts client.Options, wait time.Duration, log *slog.Logger) (client.Client, error) {
	deadline := time.Now().Add(wait)
	for {
		c, err := s.dialOnce(ctx, opts)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, ErrMisconfigured) {
			return nil, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("TEMPORAL_ADDRESS %s: not reachable within %s: %s", s.Address(), wait, oneLine(err))
		}
		log.Warn("waiting for Temporal", "address", s.Address(), "error", oneLine(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (s *Settings) dialOnce(ctx context.Context, opts client.Options) (client.Client, error) {
	// Our own handshake first: Go's TLS errors keep their types here,
	// while through gRPC they arrive as text.
	if err := s.probe(ctx); err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.DialContext(dctx, opts)
	if err != nil {
		return nil, s.explain(err)
	}
	return c, nil
}

// probe connects to the frontend and, with TLS, shakes hands and sends
// HTTP/2's preface, so that a server refusing our certificate says so. Only
// an unreachable server gives a plain (retryable) error.
func (s *Settings) probe(ctx context.Context) error {
	addr := s.Address()
	if proxied(addr) {
		// gRPC goes through the proxy (HTTPS_PROXY) where a direct
		// connection may not be allowed: its own errors must do.
		return nil
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	if !s.TLS() {
		return nil
	}
	conf := s.Options.ConnectionOptions.TLS.Clone()
	if conf.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		conf.ServerName = host
	}
	if s.Options.ConnectionOptions.Authority != "" && s.Options.ConnectionOptions.TLS.ServerName == "" {
		conf.ServerName = s.Options.ConnectionOptions.Authority
	}
	conf.NextProtos = []string{"h2"}
	tc := tls.Client(raw, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return s.tlsError(err)
	}
	// TLS 1.3 servers judge the client's certificate after the client has
	// finished: their verdict comes on the first read.
	preface := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	if _, err := tc.Write(preface); err != nil {
		return s.tlsError(err)
	}
	buf := make([]byte, 1)
	if _, err := tc.Read(buf); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil // no verdict: let the SDK try
		}
		return s.tlsError(err)
	}
	return nil
}

// tlsError names the setting behind a failed handshake.
func (s *Settings) tlsError(err error) error {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		recordHdr tls.RecordHeaderError
		verify    *tls.CertificateVerificationError
	)
	msg := err.Error()
	switch {
	case errors.As(err, &unknownCA):
		return fatalf("%s: the server's certificate at %s is not signed by this CA (%s)", s.caSettingOrSystem(), s.Address(), msg)
	case errors.As(err, &hostname):
		return fatalf("TEMPORAL_TLS_SERVER_NAME: the server's certificate at %s is not for this name (%s)", s.Address(), msg)
	case errors.As(err, &invalid):
		return fatalf("%s: the server's certificate at %s is not valid (%s)", s.caSettingOrSystem(), s.Address(), msg)
	case errors.As(err, &verify):
		return fatalf("%s: the server's certificate at %s is not trusted (%s)", s.caSettingOrSystem(), s.Address(), msg)
	case errors.As(err, &recordHdr):
		return fatalf("TEMPORAL_TLS: the server at %s does not speak TLS (set TEMPORAL_TLS=false or fix TEMPORAL_ADDRESS)", s.Address())
	case strings.Contains(msg, "remote error: tls:"):
		return s.clientCertRefused(msg)
	}
	return err
}

func (s *Settings) caSettingOrSystem() string {
	t := s.prof.TLS
	if t != nil && (t.ServerCACertPath != "" || len(t.ServerCACertData) > 0) {
		return s.caSetting()
	}
	return "TEMPORAL_TLS_SERVER_CA_CERT_PATH (unset: the system's CAs)"
}

// clientCertRefused names the client certificate setting for a server's
// TLS alert about it.
func (s *Settings) clientCertRefused(msg string) error {
	alert := msg[strings.Index(msg, "remote error: tls:")+len("remote error: tls:"):]
	alert = strings.TrimSpace(alert)
	if s.ClientCert == nil {
		return fatalf("TEMPORAL_TLS_CLIENT_CERT_PATH: the server at %s wants a client certificate and none is set (it said: %s)", s.Address(), alert)
	}
	return fatalf("%s: the server at %s refused the client certificate %q (issued by %q): is it signed by the CA the server trusts, and valid? (it said: %s)",
		s.certSetting(), s.Address(), s.ClientCert.Subject.String(), s.ClientCert.Issuer.String(), alert)
}

// explain turns an SDK dial error into a setting's error when waiting would
// not help.
func (s *Settings) explain(err error) error {
	msg := oneLine(err)
	code := status.Code(err)
	switch {
	case code == codes.Unauthenticated || code == codes.PermissionDenied ||
		strings.Contains(msg, "Unauthenticated") || strings.Contains(msg, "PermissionDenied"):
		if s.APIKey() {
			return fatalf("%s: the server at %s refused it for namespace %q (%s)", s.setting("TEMPORAL_API_KEY", "api_key"), s.Address(), s.Namespace(), msg)
		}
		if s.ClientCert != nil {
			return fatalf("%s: the server at %s refused this identity for namespace %q (%s)", s.certSetting(), s.Address(), s.Namespace(), msg)
		}
		return fatalf("TEMPORAL_API_KEY: the server at %s wants credentials and none are set (%s)", s.Address(), msg)
	case strings.Contains(msg, "remote error: tls:"):
		return s.clientCertRefused(msg)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "authentication handshake failed"):
		return fatalf("%s: TLS with the server at %s failed (%s)", s.caSettingOrSystem(), s.Address(), msg)
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return fatalf("TEMPORAL_TLS: the server at %s does not speak TLS (set TEMPORAL_TLS=false or fix TEMPORAL_ADDRESS)", s.Address())
	case !s.TLS() && (strings.Contains(msg, "server preface") || strings.Contains(msg, "EOF")) && s.speaksTLS():
		return fatalf("TEMPORAL_TLS: the server at %s speaks TLS; set TEMPORAL_TLS=true and the TEMPORAL_TLS_* certificate settings", s.Address())
	}
	return err
}

// speaksTLS reports whether the server answers a TLS handshake (any
// answer: even a refusal of ours means it speaks TLS).
func (s *Settings) speaksTLS() bool {
	raw, err := net.DialTimeout("tcp", s.Address(), 3*time.Second)
	if err != nil {
		return false
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(3 * time.Second))
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only asks whether TLS is spoken
	err = tc.Handshake()
	var recordHdr tls.RecordHeaderError
	return err == nil || (!errors.As(err, &recordHdr) && strings.Contains(err.Error(), "tls:"))
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// proxied reports whether gRPC reaches addr through a proxy of the
// environment (HTTPS_PROXY, NO_PROXY), as grpc-go decides.
func proxied(addr string) bool {
	u, err := httpproxy.FromEnvironment().ProxyFunc()(&url.URL{Scheme: "https", Host: addr})
	return err == nil && u != nil
}
