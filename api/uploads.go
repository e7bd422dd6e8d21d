package api

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Bounds on uploads in progress. An upload streams to the certificate store
// (a few buffers of memory), so a process takes many at once; what bounds
// them is the time a slow client could hold one: an upload must keep
// sending at least uploadMinRate after uploadGrace, or it is cut.
const (
	uploadsAtOnce    = 64
	uploadsPerClient = 2
	// uploadWait is how long an upload waits for one of the process's slots
	// before it is answered 503 (a queue this long means the process is
	// flooded).
	uploadWait    = 10 * time.Second
	uploadGrace   = 10 * time.Second
	uploadMinRate = 32 << 10 // bytes per second
)

// uploadSlots counts the uploads in progress, in all and by client.
type uploadSlots struct {
	grace    time.Duration
	minRate  int64 // bytes per second
	slots    chan struct{}
	mu       sync.Mutex
	byClient map[string]int
}

func newUploadSlots() *uploadSlots {
	return &uploadSlots{grace: uploadGrace, minRate: uploadMinRate, slots: make(chan struct{}, uploadsAtOnce), byClient: map[string]int{}}
}

func (u *uploadSlots) enter(client string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byClient[client] >= uploadsPerClient {
		return false
	}
	u.byClient[client]++
	return true
}

func (u *uploadSlots) leave(client string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byClient[client]--; u.byClient[client] <= 0 {
		delete(u.byClient, client)
	}
}

// uploadGate bounds concurrent uploads: a client with uploadsPerClient
// uploads in progress is answered 429 rate_limited (with the other per-client
// limits, so not when RATE_LIMITS=off); beyond uploadsAtOnce in the process,
// an upload waits up to uploadWait for a slot, then gets 503
// temporarily_unavailable. Both answers carry Retry-After. An upload in a
// slot reads its body paced (see paced).
func (s *Server) uploadGate() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.limits != nil {
			client := c.ClientIP()
			if !s.uploads.enter(client) {
				c.Header("Retry-After", "1")
				s.fail(c, problem(http.StatusTooManyRequests, "rate_limited", "finish your other uploads first"))
				return
			}
			defer s.uploads.leave(client)
		}
		t := time.NewTimer(uploadWait)
		defer t.Stop()
		select {
		case s.uploads.slots <- struct{}{}:
			defer func() { <-s.uploads.slots }()
			c.Request.Body = s.uploads.paced(c.Writer, c.Request.Body)
		case <-t.C:
			c.Header("Retry-After", "1")
			s.fail(c, problem(http.StatusServiceUnavailable, "temporarily_unavailable", "too many uploads at once; try again"))
			return
		case <-c.Request.Context().Done():
			c.Abort()
			return
		}
		c.Next()
	}
}

// paced wraps an upload's body so that each read must arrive by
// grace + (bytes so far ÷ minRate) from the start: a client trickling a few
// bytes at a time cannot hold a slot until the server's read timeout.
func (u *uploadSlots) paced(w http.ResponseWriter, body io.ReadCloser) io.ReadCloser {
	return &pacedBody{ReadCloser: body, rc: http.NewResponseController(w), start: time.Now(), grace: u.grace, minRate: u.minRate}
}

type pacedBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	start   time.Time
	grace   time.Duration
	minRate int64
	n       int64
}

func (p *pacedBody) Read(b []byte) (int, error) {
	due := p.start.Add(p.grace + time.Duration(p.n)*time.Second/time.Duration(p.minRate))
	// Without a connection deadline to set (a test's recorder), the
	// server's read timeout still bounds the upload.
	_ = p.rc.SetReadDeadline(due)
	n, err := p.ReadCloser.Read(b)
	p.n += int64(n)
	if err != nil {
		// The body is done: lift the deadline, or the server's read in the
		// background would hit it and cancel the request's context while
		// the handler still works on the upload.
		_ = p.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
