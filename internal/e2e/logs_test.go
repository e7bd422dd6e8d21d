package e2e

import (
	"bytes"
	"io"
	"sync"
	"testing"
)

// logBuffer collects a stack's logs for inspection.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var buffers sync.Map // *testing.T → *logBuffer

func captured(t *testing.T) io.Writer {
	b := &logBuffer{}
	buffers.Store(t, b)
	return b
}

func logsOf(t *testing.T) string {
	b, ok := buffers.Load(t)
	if !ok {
		t.Fatal("no captured logs")
	}
	return b.(*logBuffer).String()
}
