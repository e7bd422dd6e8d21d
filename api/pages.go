package api

import (
	"net/http"
	"net/netip"

	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/web"
)

// loopbackOnly lets only clients on this machine through: the peer address
// and, behind a trusted proxy, the client it names must both be loopback.
// Others get 404, as if the route did not exist.
func loopbackOnly() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !loopback(c.RemoteIP()) || !loopback(c.ClientIP()) {
			c.AbortWithStatusJSON(http.StatusNotFound, errorBody{Error: ErrorDetail{Code: "not_found", Message: "no such route"}})
			return
		}
		c.Next()
	}
}

func loopback(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.Unmap().IsLoopback()
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
