package mailbox

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"strings"
	"testing"
)

// The mailbox process's HTTP side drives its SMTP server: a refusal set
// over HTTP is what a sender sees, accept undoes it, and the mail that gets
// through is listed.
func TestHTTPRefuseAcceptAndList(t *testing.T) {
	box, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", box, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	h := httptest.NewServer(srv.HTTP())
	defer h.Close()
	post := func(path string) int {
		res, err := http.Post(h.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	send := func() error {
		msg := "From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n\r\nbody\r\n"
		return smtp.SendMail(srv.Addr(), nil, "a@example.com", []string{"b@example.com"}, []byte(msg))
	}

	for _, code := range []string{"", "abc", "200", "399", "600"} {
		if got := post("/dev/mailbox/refuse?code=" + code); got != http.StatusBadRequest {
			t.Errorf("refuse?code=%s: %d, want 400", code, got)
		}
	}
	if err := send(); err != nil {
		t.Fatalf("a bad refuse call changed the server: %v", err)
	}
	for _, code := range []string{"451", "550"} {
		if got := post("/dev/mailbox/refuse?code=" + code); got != http.StatusNoContent {
			t.Fatalf("refuse?code=%s: %d", code, got)
		}
		if err := send(); err == nil || !strings.HasPrefix(err.Error(), code) {
			t.Errorf("sending while refused with %s: %v", code, err)
		}
	}
	if got := post("/dev/mailbox/accept"); got != http.StatusNoContent {
		t.Fatalf("accept: %d", got)
	}
	if err := send(); err != nil {
		t.Fatalf("after accept: %v", err)
	}

	res, err := http.Get(h.URL + "/dev/mailbox?to=b@example.com")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct{ Messages []Message }
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Messages) != 2 {
		t.Errorf("listed %d messages, want 2 (the two accepted)", len(list.Messages))
	}
	if res, err := http.Get(h.URL + "/readyz"); err != nil || res.StatusCode != 200 {
		t.Errorf("readyz: %v %v", res, err)
	}
}
