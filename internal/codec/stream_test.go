package codec

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// small segments keep the tests' streams short while covering many segments.
const testSeg = minSegmentSize

func seal(t *testing.T, kr *Keyring, ad string, plain []byte, seg int) []byte {
	t.Helper()
	var out bytes.Buffer
	s, err := kr.newSealer(&out, []byte(ad), seg)
	if err != nil {
		t.Fatal(err)
	}
	// Uneven writes: the segmenting must not depend on how the caller writes.
	for p := plain; len(p) > 0; {
		n := min(len(p), 1+len(p)%777)
		if _, err := s.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func open(kr *Keyring, ad string, sealed []byte) ([]byte, error) {
	o, err := kr.NewOpener(iotest.HalfReader(bytes.NewReader(sealed)), []byte(ad))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(o)
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestStreamRoundTrip(t *testing.T) {
	kr, _ := ParseKeyring(NewKeySpec("k1"))
	for _, n := range []int{0, 1, testSeg - 1, testSeg, testSeg + 1, 3 * testSeg, 5*testSeg + 17} {
		plain := random(n)
		sealed := seal(t, kr, "cert-1", plain, testSeg)
		got, err := open(kr, "cert-1", sealed)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: round trip differs", n)
		}
		segments := max(1, (n+testSeg-1)/testSeg)
		if want := headerLen("k1") + n + segments*streamTagSize; len(sealed) != want {
			t.Errorf("%d bytes: sealed to %d, want %d", n, len(sealed), want)
		}
	}
	// The default segment size, through the public constructor.
	var buf bytes.Buffer
	s, err := kr.NewSealer(&buf, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	plain := random(2*StreamSegmentSize + 5)
	_, _ = s.Write(plain)
	_ = s.Close()
	if got, err := open(kr, "x", buf.Bytes()); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("default segments: %v", err)
	}
	if bytes.Contains(buf.Bytes(), plain[:64]) {
		t.Error("plaintext visible in the sealed stream")
	}
	if id, err := StreamKeyID(buf.Bytes()); err != nil || id != "k1" {
		t.Errorf("StreamKeyID = %q, %v", id, err)
	}
}

func headerLen(id string) int {
	return len(streamMagic) + 1 + len(id) + 4 + wrapNonceSize + dataKeySize + streamTagSize + streamPrefix
}

func TestStreamRotation(t *testing.T) {
	old := NewKeySpec("k1")
	kr1, _ := ParseKeyring(old)
	plain := random(3*testSeg + 3)
	sealed := seal(t, kr1, "c", plain, testSeg)
	// k2 is now active; k1 still opens what it sealed.
	kr2, _ := ParseKeyring(NewKeySpec("k2") + "," + old)
	if got, err := open(kr2, "c", sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("old stream after rotation: %v", err)
	}
	resealed := seal(t, kr2, "c", plain, testSeg)
	if id, _ := StreamKeyID(resealed); id != "k2" {
		t.Errorf("new stream sealed with %q", id)
	}
	// Once k1 is dropped, its streams no longer open.
	kr3, _ := ParseKeyring(NewKeySpec("k2"))
	if _, err := open(kr3, "c", sealed); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("without k1: %v, want ErrUnknownKey", err)
	}
}

func TestStreamRefusesTampering(t *testing.T) {
	spec := NewKeySpec("k1")
	kr, _ := ParseKeyring(spec)
	plain := random(3*testSeg + 100) // segments: full, full, full, short last
	sealed := seal(t, kr, "cert-1", plain, testSeg)
	hl := headerLen("k1")
	seg := testSeg + streamTagSize
	segAt := func(i int) int { return hl + i*seg }
	flip := func(at int) []byte {
		b := bytes.Clone(sealed)
		b[at] ^= 0x40
		return b
	}
	swap := func(i, j int) []byte {
		b := bytes.Clone(sealed)
		copy(b[segAt(i):segAt(i)+seg], sealed[segAt(j):segAt(j)+seg])
		copy(b[segAt(j):segAt(j)+seg], sealed[segAt(i):segAt(i)+seg])
		return b
	}
	sameID, _ := ParseKeyring(NewKeySpec("k1")) // the same id, another key
	tests := []struct {
		name   string
		kr     *Keyring
		ad     string
		sealed []byte
		want   error
	}{
		{"magic", kr, "cert-1", flip(0), ErrStreamCorrupt},
		{"key id", kr, "cert-1", flip(5), ErrUnknownKey},
		{"segment size", kr, "cert-1", flip(len(streamMagic) + 1 + 2 + 3), ErrStreamCorrupt},
		{"wrap nonce", kr, "cert-1", flip(len(streamMagic) + 1 + 2 + 4), ErrStreamCorrupt},
		{"wrapped data key", kr, "cert-1", flip(hl - streamPrefix - 1), ErrStreamCorrupt},
		{"nonce prefix", kr, "cert-1", flip(hl - 1), ErrStreamCorrupt},
		{"first segment body", kr, "cert-1", flip(segAt(0) + 10), ErrStreamCorrupt},
		{"middle segment tag", kr, "cert-1", flip(segAt(2) - 1), ErrStreamCorrupt},
		{"last segment", kr, "cert-1", flip(len(sealed) - 1), ErrStreamCorrupt},
		{"segments reordered", kr, "cert-1", swap(0, 1), ErrStreamCorrupt},
		{"cut at a segment boundary", kr, "cert-1", sealed[:segAt(3)], ErrStreamCorrupt},
		{"cut inside a segment", kr, "cert-1", sealed[:segAt(1)+100], ErrStreamCorrupt},
		{"cut after the header", kr, "cert-1", sealed[:hl], ErrStreamCorrupt},
		{"cut inside the header", kr, "cert-1", sealed[:hl-3], ErrStreamCorrupt},
		{"a segment dropped", kr, "cert-1", append(bytes.Clone(sealed[:segAt(1)]), sealed[segAt(2):]...), ErrStreamCorrupt},
		{"bytes after the last segment", kr, "cert-1", append(bytes.Clone(sealed), 0), ErrStreamCorrupt},
		{"wrong key under the same id", sameID, "cert-1", sealed, ErrStreamCorrupt},
		{"another object's name", kr, "cert-2", sealed, ErrStreamCorrupt},
		{"plain bytes", kr, "cert-1", []byte("%PDF-1.4 not sealed at all, just a document"), ErrStreamCorrupt},
		{"empty", kr, "cert-1", nil, ErrStreamCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := open(tt.kr, tt.ad, tt.sealed)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if bytes.Equal(got, plain) {
				t.Fatal("the whole plaintext came out of a broken stream")
			}
		})
	}
	if _, err := open(kr, "cert-1", sealed); err != nil {
		t.Fatalf("the untouched stream: %v", err)
	}
}

// A bad segment in the middle must not hide behind the good ones: the
// reader gets the good prefix and then the error, never io.EOF.
func TestStreamErrorIsNotEOF(t *testing.T) {
	kr, _ := ParseKeyring(NewKeySpec("k1"))
	sealed := seal(t, kr, "c", random(4*testSeg), testSeg)
	sealed = sealed[:len(sealed)-(testSeg+streamTagSize)] // drop the last segment
	o, err := kr.NewOpener(bytes.NewReader(sealed), []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, o)
	if !errors.Is(err, ErrStreamCorrupt) {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	if n != 2*testSeg {
		t.Errorf("read %d bytes before the error, want %d (the segments before the cut, less the one that must be last)", n, 2*testSeg)
	}
}

func BenchmarkStreamSeal(b *testing.B) {
	kr, _ := ParseKeyring(NewKeySpec("k1"))
	plain := random(10 << 20)
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		s, _ := kr.NewSealer(io.Discard, []byte("c"))
		_, _ = s.Write(plain)
		_ = s.Close()
	}
}
