package app_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/devserver"
	"github.com/kcloud/onboarding/internal/freeport"
	"github.com/kcloud/onboarding/internal/secret"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/workflows"
)

// The production roles, as `onboarding api` and `onboarding worker` run
// them against a Temporal server: each becomes ready, and on the signal
// turns not ready and stops cleanly (the api serving its SHUTDOWN_DELAY
// with /readyz at 503 first).
func TestRolesRunAndStopGracefully(t *testing.T) {
	dir := t.TempDir()
	frontend, err := freeport.Addr("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := devserver.Start(context.Background(), devserver.Options{
		DataDir:          filepath.Join(dir, "temporal"),
		FrontendAddr:     frontend,
		SearchAttributes: workflows.SearchAttributeNames,
		Log:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	for _, k := range []string{"TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_PATH",
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH", "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_PROFILE", "SHUTDOWN_DELAY", "METRICS_ADDR"} {
		t.Setenv(k, "")
	}
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(dir, "none.toml"))
	t.Setenv("TEMPORAL_ADDRESS", srv.FrontendAddr())
	t.Setenv("TEMPORAL_TASK_QUEUE", "roles-"+uuid.NewString())
	t.Setenv("DATABASE_URL", storetest.URL(t))
	t.Setenv("DATA_DIR", dir)
	t.Setenv("SMTP_HOST", "127.0.0.1")
	t.Setenv("PAYLOAD_ENCRYPTION_KEYS", codec.NewKeySpec("roles"))
	t.Setenv("LOG_LEVEL", "error")
	for _, k := range []string{"ADMIN_TOKEN", "CODEC_TOKEN"} {
		tok, _ := secret.NewToken()
		t.Setenv(k, tok)
	}

	for _, tc := range []struct {
		mode     config.Mode
		addrEnv  string // where /readyz is served
		extra    map[string]string
		drain503 bool // /readyz is seen at 503 after the signal
	}{
		{config.ModeWorker, "METRICS_ADDR", nil, false},
		{config.ModeAPI, "HTTP_ADDR", map[string]string{"SHUTDOWN_DELAY": "1500ms"}, true},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			addr, err := freeport.Addr("127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			t.Setenv(tc.addrEnv, addr)
			for k, v := range tc.extra {
				t.Setenv(k, v)
			}
			ready := "http://" + addr + "/readyz"
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			done := make(chan error, 1)
			go func() { done <- app.Run(ctx, tc.mode) }()
			waitStatus(t, ready, http.StatusOK, done, time.Minute)
			stop()
			if tc.drain503 {
				waitStatus(t, ready, http.StatusServiceUnavailable, nil, time.Second)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run after the signal: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return 30s after the signal")
			}
			if _, err := http.Get(ready); err == nil {
				t.Errorf("%s still answers after Run returned", addr)
			}
		})
	}
	t.Run("not a role", func(t *testing.T) {
		if err := app.Run(context.Background(), config.ModeOps); err == nil {
			t.Fatal("Run(ops) ran")
		}
	})
}

// waitStatus polls url until it answers want, failing after within or when
// done (the process under test) ends first.
func waitStatus(t *testing.T, url string, want int, done <-chan error, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := errors.New("no answer")
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("ended before %s answered %d: %v", url, want, err)
		default:
		}
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return
			}
			last = errors.New(res.Status)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %d within %s: %v", url, want, within, last)
}
