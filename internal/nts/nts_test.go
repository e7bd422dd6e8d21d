package nts

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Errors end up in logs and activity failures: they quote neither the
// service key (a query parameter of the URL) nor a whole business number.
func TestErrorsQuoteNoSecrets(t *testing.T) {
	const key, number = "SERVICE-KEY-abc123", "2208162517"
	// An answer without the number asked for.
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status_code":"OK","match_cnt":0,"request_cnt":1,"data":[]}`))
	}))
	defer empty.Close()
	// A server that hangs up without answering.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	tests := []struct{ name, url string }{
		{"answer lacks the number", empty.URL},
		{"connection closed", "http://" + ln.Addr().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.url, key, 2*time.Second, nil).Status(context.Background(), []string{number})
			if err == nil {
				t.Fatal("Status succeeded, want an error")
			}
			if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), number) {
				t.Fatalf("error quotes a secret: %v", err)
			}
		})
	}
}
