package api

import (
	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/web"
)

// securityHeaders go on every answer; pages also get the CSP. Referrer
// policy no-referrer keeps the emailed tokens in page URLs from leaking.
func securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		c.Next()
	}
}

func (s *Server) page(name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Content-Security-Policy", web.ContentSecurityPolicy)
		if err := s.pages.Render(c.Writer, c.Request, name); err != nil {
			s.log.ErrorContext(c.Request.Context(), "render page", "page", name, "error", err)
		}
	}
}

func (s *Server) mountPages(r *gin.Engine) {
	r.GET("/", s.page(web.PageSignup))
	r.GET("/signup", s.page(web.PageSignup))
	r.GET("/invitations/:token", s.page(web.PageInvitation))
	r.GET("/password-reset", s.page(web.PageReset))
	r.GET("/password-reset/:token", s.page(web.PageResetSet))
	r.GET("/sign-in", s.page(web.PageSignIn))
	r.GET("/console", s.page(web.PageConsole))
	assets := s.pages.Assets()
	r.GET("/assets/*file", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		assets.ServeHTTP(c.Writer, c.Request)
	})
	r.HEAD("/assets/*file", gin.WrapH(assets))
}
