package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/store/storetest"
)

// `onboarding migrate` applies what is pending, says how many, and lists
// every migration; a second run applies none; --status applies nothing.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	cfg := config.Config{DatabaseURL: storetest.URL(t), LogLevel: "error", LogFormat: "json"}
	applied := regexp.MustCompile(`^applied (\d+) migration\(s\) to `)
	run := func(statusOnly bool) []string {
		var out bytes.Buffer
		if err := Migrate(ctx, cfg, &out, statusOnly); err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	}

	first := run(false)
	m := applied.FindStringSubmatch(first[0])
	if m == nil || m[1] == "0" {
		t.Fatalf("first run: %q, want migrations applied", first[0])
	}
	if want := " to " + store.Redact(cfg.DatabaseURL); !strings.HasSuffix(first[0], want) {
		t.Errorf("first run: %q, want it to end %q (the URL without its password)", first[0], want)
	}
	statusLines := first[1:]
	if len(statusLines) == 0 {
		t.Fatal("no migration listed")
	}
	for _, l := range statusLines {
		if !strings.Contains(l, "applied") {
			t.Errorf("after migrating, %q is not applied", l)
		}
	}
	second := run(false)
	if !strings.HasPrefix(second[0], "applied 0 migration(s) to ") {
		t.Errorf("second run: %q, want none applied", second[0])
	}
	status := run(true)
	if applied.MatchString(status[0]) || len(status) != len(statusLines) {
		t.Errorf("--status: %q, want only the %d migrations", status, len(statusLines))
	}
}

// `onboarding migrate certificates` on a database without certificates
// moves none and says where they are, under the active key.
func TestMigrateCertificatesReports(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(dir, "none.toml"))
	cfg := config.Config{DatabaseURL: storetest.URL(t), DataDir: dir, LogLevel: "error", LogFormat: "json",
		PayloadKeys: codec.NewKeySpec("k7"), CertificateStore: "file://" + filepath.Join(dir, "certificates")}
	for _, tt := range []struct {
		statusOnly bool
		want       []string
	}{
		{false, []string{"moved 0 certificate(s) from the database into the store; re-sealed 0 under key k7", "in the database: 0"}},
		{true, []string{"in the database: 0"}},
	} {
		var out bytes.Buffer
		if err := MigrateCertificates(context.Background(), cfg, &out, 10, tt.statusOnly); err != nil {
			t.Fatal(err)
		}
		if got := strings.Split(strings.TrimRight(out.String(), "\n"), "\n"); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("status only %v: %q, want %q", tt.statusOnly, got, tt.want)
		}
	}
}

// The worker's /readyz is 503 while stopping, when the database is gone,
// and when Temporal does not answer; /healthz and /metrics answer anyway.
func TestWorkerHandler(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, config.Config{PayloadKeys: codec.NewKeySpec("t"), LogLevel: "error", LogFormat: "json"}, config.ModeDev)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "app.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: Temporal does not answer.
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var stopping atomic.Bool
	srv := httptest.NewServer(rt.WorkerHandler(db, c, &stopping))
	defer srv.Close()
	get := func(path string) (int, string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, tt := range []struct {
		name     string
		setup    func()
		wantCode int
		wantBody string
	}{
		{"temporal down", func() {}, 503, "temporal unavailable\n"},
		{"database closed", func() { _ = db.Close() }, 503, "database unavailable\n"},
		{"stopping", func() { stopping.Store(true) }, 503, "stopping"},
	} {
		tt.setup()
		code, body := get("/readyz")
		// Only the check's name: no address or driver error to whoever
		// reaches the port.
		if code != tt.wantCode || (tt.wantCode == 503 && tt.name != "stopping" && body != tt.wantBody) || !strings.HasPrefix(body, tt.wantBody) {
			t.Errorf("%s: /readyz %d %q, want %d %q", tt.name, code, body, tt.wantCode, tt.wantBody)
		}
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _ := get("/metrics"); code != 200 {
		t.Errorf("/metrics: %d", code)
	}
}
