package api

import (
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Bounds on uploads in progress: each holds up to MaxCertificate of memory
// until stored, so a process takes a few at once and one client fewer.
const (
	uploadsAtOnce    = 8
	uploadsPerClient = 2
	// uploadWait is how long an upload waits for one of the process's slots
	// before it is answered 503 (uploads of a few hundred kilobytes take
	// milliseconds; a queue this long means the process is flooded).
	uploadWait = 10 * time.Second
)

// uploadSlots counts the uploads in progress, in all and by client.
type uploadSlots struct {
	slots    chan struct{}
	mu       sync.Mutex
	byClient map[string]int
}

func newUploadSlots() *uploadSlots {
	return &uploadSlots{slots: make(chan struct{}, uploadsAtOnce), byClient: map[string]int{}}
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
// temporarily_unavailable. Both answers carry Retry-After.
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
