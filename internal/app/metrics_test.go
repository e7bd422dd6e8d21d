package app

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
)

// With METRICS_ADDR the api serves /metrics there and not on HTTP_ADDR, so
// that the metrics need not be public; without it (and in dev, and for the
// worker's API-less runtime) /metrics stays on HTTP_ADDR.
func TestAPIMetricsOnTheirOwnAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	get := func(url string) int {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if strings.HasSuffix(url, "/metrics") && res.StatusCode == 200 && !strings.Contains(string(body), "onboarding_http_request_duration_seconds") {
			t.Errorf("%s: no onboarding series", url)
		}
		return res.StatusCode
	}
	for _, tt := range []struct {
		mode        config.Mode
		metricsAddr string
		onHTTP      int
	}{
		{config.ModeAPI, "127.0.0.1:0", 404},
		{config.ModeAPI, "", 200},
		{config.ModeDev, "127.0.0.1:0", 200},
	} {
		cfg := config.Config{PayloadKeys: codec.NewKeySpec("t"), MetricsAddr: tt.metricsAddr, LogLevel: "error", LogFormat: "json"}
		rt, err := New(ctx, cfg, tt.mode)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		srv := httptest.NewServer(rt.API(nil, nil, nil).Handler())
		defer srv.Close()
		// A request so that the HTTP histogram has a series.
		get(srv.URL + "/healthz")
		if got := get(srv.URL + "/metrics"); got != tt.onHTTP {
			t.Errorf("%s with METRICS_ADDR %q: /metrics on HTTP_ADDR answers %d, want %d", tt.mode, tt.metricsAddr, got, tt.onHTTP)
		}
		if tt.mode == config.ModeAPI && tt.metricsAddr != "" {
			addr, err := rt.ServeMetrics(ctx, tt.metricsAddr)
			if err != nil {
				t.Fatal(err)
			}
			if got := get("http://" + addr + "/metrics"); got != 200 {
				t.Errorf("/metrics on METRICS_ADDR answers %d", got)
			}
		}
	}
}
