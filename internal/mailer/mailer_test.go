package mailer_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/mailbox"
	"github.com/kcloud/onboarding/internal/mailer"
)

// A refusal that quotes the recipient comes back without the address, and
// still says whether it is for good.
func TestErrorsHoldNoAddress(t *testing.T) {
	box, _ := mailbox.Open("")
	srv, err := mailbox.Listen("127.0.0.1:0", box, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Addr())
	port, _ := strconv.Atoi(portStr)
	m := mailer.NewSMTP(mailer.Config{Host: host, Port: port, TLS: "none", From: "no-reply@onboarding.local", Timeout: 5 * time.Second})
	const to = "kim.minsu@example.com"
	for _, tt := range []struct {
		code      int
		permanent bool
	}{{550, true}, {451, false}} {
		srv.Refuse(tt.code, "5.1.1 <"+to+">: recipient "+to+" refused")
		err := m.Send(context.Background(), mailer.Message{To: to, Subject: "s", Text: "t"})
		if err == nil {
			t.Fatalf("%d: sent", tt.code)
		}
		// Nowhere in the chain: Temporal prints every cause.
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), "kim.minsu") || strings.Contains(e.Error(), "example.com") {
				t.Errorf("%d: the error (or a cause) quotes the address: %v", tt.code, e)
			}
		}
		if !strings.Contains(err.Error(), "<address>") {
			t.Errorf("%d: the error lost its text: %v", tt.code, err)
		}
		var pe *mailer.PermanentError
		if errors.As(err, &pe) != tt.permanent {
			t.Errorf("%d: permanent = %v, want %v (%v)", tt.code, !tt.permanent, tt.permanent, err)
		}
	}
}
