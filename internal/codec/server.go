package codec

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions configure the codec server.
type ServerOptions struct {
	// Token is the operator token; requests need "Authorization: Bearer
	// <token>" or the session cookie from the login page. Empty: no access.
	Token string
	// AllowedOrigins may call the codec server from a browser (the Temporal
	// UI's origin).
	AllowedOrigins []string
}

// CookieName carries an operator's codec session (see LoginHandler).
const CookieName = "onboarding_codec"

// Handler serves the Temporal codec server protocol at …/encode and
// …/decode (POST, JSON Payloads), for the Temporal UI and CLI, behind the
// operator token and CORS for the UI's origin.
func Handler(kr *Keyring, opts ServerOptions, sessions *Sessions) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(New(kr))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && slices.Contains(opts.AllowedOrigins, origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace, Authorization-Extras, Caller-Type")
			h.Set("Access-Control-Max-Age", "600")
			h.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if !authorized(r, opts.Token, sessions) {
			http.Error(w, "operator token required", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 8<<20)
		inner.ServeHTTP(w, r)
	})
}

func authorized(r *http.Request, token string, sessions *Sessions) bool {
	if token == "" {
		return false
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1 {
		return true
	}
	if c, err := r.Cookie(CookieName); err == nil && sessions != nil {
		return sessions.Valid(r.Context(), c.Value)
	}
	return false
}
