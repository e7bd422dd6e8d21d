package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// securityHeaders go on every answer; pages also get the CSP. Referrer
// policy no-referrer keeps the emailed tokens in page URLs from leaking.
// Nothing is stored by browsers or proxies (Cache-Control: no-store) but the
// static assets: API answers carry tokens and personal data, pages carry
// tokens in their URLs. With an https PUBLIC_BASE_URL, browsers are told to
// use https only (Strict-Transport-Security).
func securityHeaders(strictTransport bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if strictTransport {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		c.Next()
	}
}

// cors lets the configured front-end origins call the API from a browser.
func (s *Server) cors() gin.HandlerFunc {
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin != "" && strings.HasPrefix(c.Request.URL.Path, "/api/") && slices.Contains(s.cfg.CORSOrigins, origin) {
			h := c.Writer.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, X-Request-Id")
			h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			h.Add("Vary", "Origin")
		}
		if c.Request.Method == http.MethodOptions && strings.HasPrefix(c.Request.URL.Path, "/api/") {
			// A preflight: the headers above say what is allowed.
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}
