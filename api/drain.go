package api

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// A refusal must reach the client whatever it does. Many clients (Python's
// urllib, curl without Expect, simple scripts) write the whole request body
// before they read the answer; when the server answers early and closes
// with the rest of the body unread, the kernel resets the connection and the
// client sees "connection reset" instead of, say, 413 file_too_large. So
// what is left of a refused request's body is read and thrown away, up to a
// bound, before the answer goes; past the bound the connection is closed.
const (
	// maxDrain bounds the bytes read and thrown away per request: twice the
	// largest certificate, more than any honest request carries.
	maxDrain = 2 * MaxCertificate
	// drainTime bounds how long a slow client is waited for.
	drainTime = 30 * time.Second
)

const bodyKey = "onboarding.body"

// countingBody counts what the handlers read of a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// drainUnread drains the body of every request answered with an error
// (auth, rate limits, validation, a body over the JSON bound …) before the
// answer is sent. The answer is still in the server's buffer when the
// handler returns, so reading the body then is allowed.
func (s *Server) drainUnread() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body == nil || c.Request.Body == http.NoBody || c.Request.ContentLength == 0 {
			c.Next()
			return
		}
		body := &countingBody{ReadCloser: c.Request.Body}
		c.Request.Body = body
		c.Set(bodyKey, body)
		c.Next()
		// The server looks at its own body type after the handler.
		c.Request.Body = body.ReadCloser
		if c.Writer.Status() >= 400 {
			drainBody(c)
		}
	}
}

// drainBody reads and discards what is left of the request body, up to
// maxDrain bytes and drainTime, and reports whether it reached the end. A
// client that asked "Expect: 100-continue" and was sent nothing yet has not
// sent the body: it is not asked for it now.
func drainBody(c *gin.Context) bool {
	var body io.Reader = c.Request.Body
	if v, ok := c.Get(bodyKey); ok {
		cb := v.(*countingBody)
		if cb.n == 0 && strings.EqualFold(c.GetHeader("Expect"), "100-continue") {
			return false
		}
		body = cb
	}
	rc := http.NewResponseController(c.Writer)
	_ = rc.SetReadDeadline(time.Now().Add(drainTime))
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	n, err := io.CopyN(io.Discard, body, maxDrain)
	return err == io.EOF && n < maxDrain
}

// refuseBody answers p to a request whose body the answer does not need, an
// over-size upload above all: the body is drained (drainBody), then the
// answer goes with Connection: close. The upload handler calls it for 413
// file_too_large, however it reads the upload.
func (s *Server) refuseBody(c *gin.Context, p *Problem) {
	drainBody(c)
	c.Header("Connection", "close")
	s.fail(c, p)
}
