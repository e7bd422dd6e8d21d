package api

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/codec"
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
		r.POST(p, h)
		r.OPTIONS(p, h)
	}
	login := gin.WrapH(codec.LoginHandler(s.cfg.CodecToken, sessions, s.cfg.SecureCookies))
	r.GET("/codec/login", login)
	r.POST("/codec/login", login)
}
