package devmode

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/freeport"
)

// dev comes up on its own ports and DATA_DIR, prints where everything is,
// serves the API and the mailbox, and stops cleanly on the signal; started
// again on the same DATA_DIR it comes up again.
func TestRunUpAndDown(t *testing.T) {
	dir := t.TempDir()
	addrs := map[string]string{}
	for _, k := range []string{"HTTP_ADDR", "TEMPORAL_ADDRESS", "TEMPORAL_UI_ADDR", "DEV_SMTP_ADDR"} {
		a, err := freeport.Addr("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		addrs[k] = a
		t.Setenv(k, a)
	}
	t.Setenv("DATA_DIR", dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("CODEC_TOKEN", "")
	t.Setenv("LOG_LEVEL", "error")
	api := "http://" + addrs["HTTP_ADDR"]
	for run := 1; run <= 2; run++ {
		ctx, stop := context.WithCancel(context.Background())
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- Run(ctx, &out) }()
		waitOK(t, api+"/readyz", done, 2*time.Minute)
		if res, err := http.Get(api + "/dev/mailbox"); err != nil || res.StatusCode != 200 {
			t.Errorf("run %d: /dev/mailbox: %v %v", run, res, err)
		}
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("run %d: dev did not stop a minute after the signal", run)
		}
		for _, want := range []string{
			"onboarding dev is up in ",
			"API and pages   " + api + "  (health: " + api + "/readyz)",
			"Temporal gRPC   " + addrs["TEMPORAL_ADDRESS"],
			"Payloads        encrypted; set CODEC_TOKEN",
			"Mailbox         " + api + "/dev/mailbox/view  (SMTP " + addrs["DEV_SMTP_ADDR"] + ")",
			"Data            " + dir,
		} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("run %d: the banner lacks %q:\n%s", run, want, out.String())
			}
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "temporal", "*")); len(matches) == 0 {
		t.Error("nothing kept in DATA_DIR/temporal")
	}
}

// A taken DEV_SMTP_ADDR is refused before the embedded Temporal server
// starts (it listens first, as HTTP_ADDR does): at once, and no port of
// dev's is left free while Temporal's services pick theirs.
func TestTakenMailboxAddressRefusedFirst(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	for _, k := range []string{"HTTP_ADDR", "TEMPORAL_ADDRESS", "TEMPORAL_UI_ADDR"} {
		a, err := freeport.Addr("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv(k, a)
	}
	t.Setenv("DEV_SMTP_ADDR", taken.Addr().String())
	t.Setenv("DATA_DIR", dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("LOG_LEVEL", "error")
	err = Run(context.Background(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "DEV_SMTP_ADDR") {
		t.Fatalf("Run with DEV_SMTP_ADDR taken: %v, want an error naming DEV_SMTP_ADDR", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "temporal", "temporal.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Temporal was started before the mailbox address was checked (temporal.db: %v)", err)
	}
}

func TestStoreURL(t *testing.T) {
	for in, want := range map[string]string{
		"s3://bucket?region=eu&endpoint=http://minio:9000": "s3://bucket",
		"file:///var/lib/certificates":                     "file:///var/lib/certificates",
	} {
		if got := storeURL(in); got != want {
			t.Errorf("storeURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func waitOK(t *testing.T, url string, done <-chan error, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("dev ended before %s answered: %v", url, err)
		default:
		}
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within %s", url, within)
}
