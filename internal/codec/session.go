package codec

import (
	"crypto/subtle"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/kcloud/onboarding/internal/secret"
)

// Sessions are operators' codec logins, kept in memory (by hash) for the
// life of the process: a browser cannot send a bearer token from the
// Temporal UI, so an operator logs in once and the UI's requests carry a
// cookie instead.
type Sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]time.Time // token hash → expiry
}

// NewSessions keeps logins for ttl.
func NewSessions(ttl time.Duration) *Sessions {
	return &Sessions{ttl: ttl, m: map[string]time.Time{}}
}

func (s *Sessions) start() (string, time.Time) {
	token, hash := secret.NewToken()
	exp := time.Now().Add(s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for h, e := range s.m {
		if now.After(e) {
			delete(s.m, h)
		}
	}
	s.m[hash] = exp
	return token, exp
}

// Valid reports whether token is a live login.
func (s *Sessions) Valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[secret.Hash(token)]
	return ok && time.Now().Before(exp)
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
				t, exp := sessions.start()
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
