package api

import (
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/metrics"
)

// mountCodec serves the codec server (/codec/encode, /codec/decode) and its
// login page, when there is a keyring and an operator token.
func (s *Server) mountCodec(r *gin.Engine) {
	if s.keyring == nil || s.cfg.CodecToken == "" {
		return
	}
	// In the database: the UI's next request may reach another replica.
	sessions := codec.NewDBSessions(s.db.DB, 8*time.Hour)
	h := gin.WrapH(codec.Handler(s.keyring, codec.ServerOptions{Token: s.cfg.CodecToken, AllowedOrigins: s.cfg.CodecOrigins}, sessions))
	for _, p := range []string{"/codec/encode", "/codec/decode"} {
		r.POST(p, s.codecGuard(), h)
		r.OPTIONS(p, h)
	}
	login := gin.WrapH(codec.LoginHandler(s.cfg.CodecToken, sessions, s.cfg.SecureCookies))
	r.GET("/codec/login", login)
	r.POST("/codec/login", s.codecGuard(), login)
}

// codecGuard limits the calls that present the codec token (a bearer token,
// or the login form's) and records the wrong ones like the admin API's; the
// codec server itself still checks and answers. Calls with only the session
// cookie pass through: the Temporal UI makes many, each checked by the
// server.
func (s *Server) codecGuard() gin.HandlerFunc {
	return func(c *gin.Context) {
		var (
			presented bool
			got       string
		)
		if c.FullPath() == "/codec/login" {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 4096)
			got, presented = c.Request.PostFormValue("token"), true
		} else {
			got, presented = bearer(c)
		}
		if !presented {
			c.Next()
			return
		}
		if !s.allow(c, limitOperatorIP, c.ClientIP()) {
			return
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.CodecToken)) != 1 && !s.operatorRefused(c, metrics.EndpointCodec) {
			return
		}
		c.Next()
	}
}
