package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/internal/store/storetest"
)

// An answer to a step authenticated by a known token is checked against the
// row only when it may be a replay (sent with an Idempotency-Key, and older
// than a fresh answer can be), and refused only when the sign-up has ended.
func TestReplayedAfterEnd(t *testing.T) {
	db := storetest.Open(t)
	s := New(Config{UpdateTimeout: time.Second}, Deps{DB: db})
	ctx := context.Background()
	now := time.Now().UTC()
	for id, st := range map[string]signup.Status{
		"00000000-0000-0000-0000-00000000000a": signup.StatusActive,
		"00000000-0000-0000-0000-00000000000b": signup.StatusReady,
	} {
		if err := s.signups.Create(ctx, signup.View{SignupID: id, Status: st, CreatedAt: now, UpdatedAt: now}, "h"); err != nil {
			t.Fatal(err)
		}
	}
	const (
		ended = "00000000-0000-0000-0000-00000000000a"
		live  = "00000000-0000-0000-0000-00000000000b"
		gone  = "00000000-0000-0000-0000-00000000000c"
	)
	old, fresh := now.Add(-time.Minute), now
	tests := []struct {
		name  string
		id    string
		known bool
		key   string
		at    time.Time
		want  bool
	}{
		{"ended, replayed", ended, true, "k1", old, true},
		{"gone, replayed", gone, true, "k1", old, true},
		{"live, replayed", live, true, "k1", old, false},
		{"ended, fresh answer", ended, true, "k1", fresh, false},
		{"ended, no key", ended, true, "", old, false},
		{"ended, row read before", ended, false, "k1", old, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest(http.MethodPost, "/", nil)
			if tt.key != "" {
				c.Request.Header.Set("Idempotency-Key", tt.key)
			}
			c.Params = gin.Params{{Key: "id", Value: tt.id}}
			if tt.known {
				c.Set(knownTokenKey, true)
			}
			if got := s.replayedAfterEnd(c, tt.at); got != tt.want {
				t.Errorf("replayedAfterEnd = %v, want %v", got, tt.want)
			}
		})
	}
}
