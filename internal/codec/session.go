package codec

import (
	"context"
	"crypto/subtle"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/kcloud/onboarding/internal/secret"
)

// Sessions are operators' codec logins, by token hash: a browser cannot
// send a bearer token from the Temporal UI, so an operator logs in once and
// the UI's requests carry a cookie instead. With a database they live in
// its codec_sessions table, so that every api replica knows every login;
// without one (tests), in this process.
type Sessions struct {
	ttl time.Duration
	db  *gorm.DB // nil: in memory

	mu sync.Mutex
	m  map[string]time.Time // token hash → expiry
}

// NewSessions keeps logins for ttl in this process.
func NewSessions(ttl time.Duration) *Sessions {
	return &Sessions{ttl: ttl, m: map[string]time.Time{}}
}

// NewDBSessions keeps logins for ttl in db's codec_sessions table.
func NewDBSessions(db *gorm.DB, ttl time.Duration) *Sessions {
	return &Sessions{ttl: ttl, db: db}
}

func (s *Sessions) start(ctx context.Context) (string, time.Time, error) {
	token, hash := secret.NewToken()
	now := time.Now().UTC()
	exp := now.Add(s.ttl)
	if s.db != nil {
		db := s.db.WithContext(ctx)
		// Expired logins go as new ones come: there are few.
		if err := db.Exec("DELETE FROM codec_sessions WHERE expires_at < ?", now).Error; err != nil {
			return "", time.Time{}, fmt.Errorf("codec sessions: %w", err)
		}
		if err := db.Exec("INSERT INTO codec_sessions (token_hash, expires_at, created_at) VALUES (?, ?, ?)", hash, exp, now).Error; err != nil {
			return "", time.Time{}, fmt.Errorf("codec sessions: %w", err)
		}
		return token, exp, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, e := range s.m {
		if now.After(e) {
			delete(s.m, h)
		}
	}
	s.m[hash] = exp
	return token, exp, nil
}

// Valid reports whether token is a live login.
func (s *Sessions) Valid(ctx context.Context, token string) bool {
	if token == "" {
		return false
	}
	now := time.Now().UTC()
	if s.db != nil {
		var n int64
		err := s.db.WithContext(ctx).Raw("SELECT COUNT(*) FROM codec_sessions WHERE token_hash = ? AND expires_at > ?", secret.Hash(token), now).Scan(&n).Error
		return err == nil && n == 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[secret.Hash(token)]
	return ok && now.Before(exp)
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Codec login</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><main><h1>Decode payloads in the Temporal UI</h1>
{{if .OK}}<p class="ok-box" role="status">Logged in until {{.Until}}. Reload the Temporal UI: sign-up payloads now show decoded.</p>
{{else}}<p>Sign-up payloads are encrypted. Enter the operator token (CODEC_TOKEN) to let this browser decode them in the Temporal UI.</p>
{{if .Failed}}<p class="error-box" role="alert">That token is not right.</p>{{end}}
<form method="post" action="/codec/login"><div class="field"><label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="off" required></div>
<div class="actions"><button type="submit">Log in</button></div></form>{{end}}
</main></body></html>`))

// LoginHandler serves the login page (GET) and checks the token (POST),
// setting a session cookie the Temporal UI's codec requests carry.
func LoginHandler(token string, sessions *Sessions, secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		data := struct {
			OK, Failed bool
			Until      string
		}{}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 4096)
			got := r.PostFormValue("token")
			if token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1 {
				t, exp, err := sessions.start(r.Context())
				if err != nil {
					http.Error(w, "could not keep the login; try again", http.StatusServiceUnavailable)
					return
				}
				http.SetCookie(w, &http.Cookie{Name: CookieName, Value: t, Path: "/codec", Expires: exp,
					HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
				data.OK, data.Until = true, exp.UTC().Format(time.RFC3339)
			} else {
				data.Failed = true
				w.WriteHeader(http.StatusUnauthorized)
			}
		}
		_ = loginPage.Execute(w, data)
	})
}
