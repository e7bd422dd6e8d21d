package app_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/certtest"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/devserver"
	"github.com/kcloud/onboarding/workflows"
)

// keyCheck is the server side of the API key test: it records the
// authorization header of the clients' calls and refuses a wrong key, as
// Temporal Cloud does. The server's own system worker sends none and passes.
type keyCheck struct {
	want string
	mu   sync.Mutex
	seen map[string]int // header value → calls
}

func (k *keyCheck) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("authorization"); len(v) > 0 {
		k.mu.Lock()
		k.seen[v[0]]++
		k.mu.Unlock()
		if v[0] != "Bearer "+k.want {
			return nil, status.Error(codes.Unauthenticated, "invalid API key")
		}
	}
	return handler(ctx, req)
}

func (k *keyCheck) count(v string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seen[v]
}

// The embedded server with mutual TLS: the client connects with the
// certificate, sends the API key as the SDK does (the server sees it), and
// every wrong setting fails at once with its name.
func TestDialSecuredTemporal(t *testing.T) {
	dir := t.TempDir()
	set, err := certtest.NewSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	other, err := certtest.NewCA(dir, "other")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Issue("foreign-client", certtest.Options{Client: true})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := set.CA.Issue("expired-client", certtest.Options{Client: true,
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	keys := &keyCheck{want: "good-key", seen: map[string]int{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	srv, err := devserver.Start(context.Background(), devserver.Options{
		DataDir:              filepath.Join(dir, "temporal"),
		FrontendAddr:         "127.0.0.1:" + strconv.Itoa(port),
		SearchAttributes:     workflows.SearchAttributeNames,
		Log:                  slog.New(slog.DiscardHandler),
		TLS:                  &devserver.TLS{CertFile: set.Server.CertFile, KeyFile: set.Server.KeyFile, ClientCAFile: set.CA.CertFile},
		FrontendInterceptors: []grpc.UnaryServerInterceptor{keys.intercept},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)

	dial := func(t *testing.T, env map[string]string) error {
		t.Helper()
		for _, k := range []string{"TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH",
			"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_PROFILE"} {
			t.Setenv(k, "")
		}
		t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(dir, "none.toml"))
		t.Setenv("TEMPORAL_ADDRESS", srv.FrontendAddr())
		t.Setenv("DATABASE_URL", "sqlite://"+filepath.Join(dir, "unused.db"))
		t.Setenv("SMTP_HOST", "127.0.0.1")
		t.Setenv("PAYLOAD_ENCRYPTION_KEYS", codec.NewKeySpec("t"))
		for k, v := range env {
			t.Setenv(k, v)
		}
		cfg, err := config.Load(config.ModeWorker)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		rt, err := app.New(ctx, cfg, config.ModeWorker)
		if err != nil {
			return err
		}
		defer rt.Close()
		c, err := rt.Dial(ctx, 30*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
		return err
	}
	good := map[string]string{
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    set.Client.CertFile,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     set.Client.KeyFile,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": set.CA.CertFile,
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	t.Run("client certificate and API key", func(t *testing.T) {
		if err := dial(t, with("TEMPORAL_API_KEY", "good-key")); err != nil {
			t.Fatal(err)
		}
		if n := keys.count("Bearer good-key"); n == 0 {
			t.Fatal("the server never saw the API key in the authorization header")
		}
	})
	t.Run("client certificate as data", func(t *testing.T) {
		if err := dial(t, map[string]string{
			"TEMPORAL_TLS_CLIENT_CERT_DATA":    string(set.Client.CertPEM),
			"TEMPORAL_TLS_CLIENT_KEY_DATA":     string(set.Client.KeyPEM),
			"TEMPORAL_TLS_SERVER_CA_CERT_DATA": string(set.CA.CertPEM),
		}); err != nil {
			t.Fatal(err)
		}
	})

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // the error starts with the setting's name
		also string
	}{
		{"wrong API key", with("TEMPORAL_API_KEY", "bad-key"), "TEMPORAL_API_KEY:", "refused"},
		{"no client certificate", map[string]string{"TEMPORAL_TLS_SERVER_CA_CERT_PATH": set.CA.CertFile}, "TEMPORAL_TLS_CLIENT_CERT_PATH:", "none is set"},
		{"client certificate file missing", with("TEMPORAL_TLS_CLIENT_CERT_PATH", filepath.Join(dir, "nope.pem")), "TEMPORAL_TLS_CLIENT_CERT_PATH:", "no such file"},
		{"expired client certificate", with("TEMPORAL_TLS_CLIENT_CERT_PATH", expired.CertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH", expired.KeyFile), "TEMPORAL_TLS_CLIENT_CERT_PATH:", "certificate expired on"},
		{"client certificate from another CA", with("TEMPORAL_TLS_CLIENT_CERT_PATH", foreign.CertFile, "TEMPORAL_TLS_CLIENT_KEY_PATH", foreign.KeyFile), "TEMPORAL_TLS_CLIENT_CERT_PATH:", "refused the client certificate"},
		{"key of another certificate", with("TEMPORAL_TLS_CLIENT_KEY_PATH", foreign.KeyFile), "TEMPORAL_TLS_CLIENT_KEY_PATH:", "private key does not match"},
		{"wrong server CA", with("TEMPORAL_TLS_SERVER_CA_CERT_PATH", other.CertFile), "TEMPORAL_TLS_SERVER_CA_CERT_PATH:", "not signed by this CA"},
		{"wrong server name", with("TEMPORAL_TLS_SERVER_NAME", "temporal.example.com"), "TEMPORAL_TLS_SERVER_NAME:", "not for this name"},
		{"TLS off", map[string]string{}, "TEMPORAL_TLS:", "speaks TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := dial(t, tc.env)
			took := time.Since(start)
			if err == nil {
				t.Fatal("connected")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.want) || !strings.Contains(msg, tc.also) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line starting %q and saying %q", msg, tc.want, tc.also)
			}
			if took > 15*time.Second {
				t.Errorf("took %s to fail: it waited instead of stopping", took)
			}
			t.Logf("%s in %s", msg, took.Round(time.Millisecond))
		})
	}
}
