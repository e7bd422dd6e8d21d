package argon2

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	ref "golang.org/x/crypto/argon2"
)

// Every key is the original's: at the service's parameters and others
// (rounded memory, several lanes, a size the Memory was not made for,
// long keys), twice in a row on one Memory (the original's key computed
// first: its 19 MiB would start the collections that empty the pool), so
// that a key derived in blocks lent again would differ if they were not
// cleared.
func TestIDKeyIsTheOriginals(t *testing.T) {
	tests := []struct {
		memory  uint32
		time    uint32
		threads uint8
		keyLen  uint32
		mem     uint32 // the Memory's size (0: memory)
	}{
		{19 * 1024, 2, 1, 32, 0}, // the service's
		{64, 1, 1, 16, 0},
		{8, 3, 1, 32, 0}, // the least memory
		{1, 1, 1, 32, 0}, // below the least: rounded up
		{1000, 2, 4, 32, 0},
		{1001, 1, 3, 100, 0}, // rounded down; a key longer than one BLAKE2b
		{256, 2, 2, 64, 128}, // a size the Memory does not keep
	}
	r := rand.New(rand.NewChaCha8([32]byte{1}))
	for _, tt := range tests {
		t.Run(fmt.Sprintf("m=%d,t=%d,p=%d,len=%d", tt.memory, tt.time, tt.threads, tt.keyLen), func(t *testing.T) {
			size := tt.memory
			if tt.mem != 0 {
				size = tt.mem
			}
			m := NewMemory(size, tt.threads)
			for i := 0; i < 3; i++ {
				pw, salt := make([]byte, r.IntN(40)), make([]byte, 8+r.IntN(24))
				for _, b := range [][]byte{pw, salt} {
					for j := range b {
						b[j] = byte(r.Uint32())
					}
				}
				want := ref.IDKey(pw, salt, tt.time, tt.memory, tt.threads, tt.keyLen)
				for j := 0; j < 2; j++ {
					if got := m.IDKey(pw, salt, tt.time, tt.memory, tt.threads, tt.keyLen); !bytes.Equal(got, want) {
						t.Fatalf("key %d, derivation %d: %x, want %x", i, j, got, want)
					}
				}
			}
		})
	}
}

// Keys derived at once on one Memory are each the original's.
func TestIDKeyConcurrent(t *testing.T) {
	m := NewMemory(256, 1)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 4 {
				pw := []byte(fmt.Sprintf("password %d %d", i, j))
				salt := []byte("saltsaltsalt")
				if got, want := m.IDKey(pw, salt, 2, 256, 1, 32), ref.IDKey(pw, salt, 2, 256, 1, 32); !bytes.Equal(got, want) {
					t.Errorf("%s: %x, want %x", pw, got, want)
				}
			}
		})
	}
	wg.Wait()
}

// After the first key, a key at the Memory's size allocates next to
// nothing: the 19 MiB of blocks are lent again, not made.
func TestIDKeyLendsItsBlocks(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops a quarter of what is put in a sync.Pool")
	}
	m := NewMemory(19*1024, 1)
	pw, salt := []byte("correct horse"), []byte("0123456789abcdef")
	m.IDKey(pw, salt, 2, 19*1024, 1, 32)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m.IDKey(pw, salt, 2, 19*1024, 1, 32)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("a second key allocated %d bytes, want the blocks lent again (under 1 MiB)", got)
	}
}

func BenchmarkIDKey(b *testing.B) {
	pw, salt := []byte("correct horse"), []byte("0123456789abcdef")
	b.Run("pooled", func(b *testing.B) {
		m := NewMemory(19*1024, 1)
		b.ReportAllocs()
		for b.Loop() {
			m.IDKey(pw, salt, 2, 19*1024, 1, 32)
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ref.IDKey(pw, salt, 2, 19*1024, 1, 32)
		}
	})
}
