package codec

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Sealed streams ("OBS1") keep documents — business registration
// certificates — encrypted at rest under the same keyring as the payloads,
// without ever holding a whole document in memory.
//
// Layout (integers big-endian):
//
//	magic      4   "OBS1"
//	idLen      1   length of the key id
//	keyID      idLen  the keyring key that wraps the data key
//	segSize    4   plaintext bytes per segment (every segment but the last is full)
//	wrapNonce 12   random
//	wrapped   48   the object's random AES-256 data key, sealed with keyID's
//	               key (AES-256-GCM), additional data = the header up to
//	               segSize plus the caller's additional data (the object's name)
//	prefix     7   random nonce prefix
//	segments       AES-256-GCM under the data key; nonce = prefix ‖ counter (4)
//	               ‖ last (1: 1 on the final segment, else 0); additional
//	               data = the whole header above
//
// Each object has a data key of its own, so nonces never repeat across
// objects however many are sealed with one keyring key, and the keyring
// key only ever seals 32-byte data keys with random nonces (as it does
// payloads). The counter in the nonce makes a reordered or dropped segment
// fail to open; the last flag makes a stream cut at a segment boundary fail
// (its new final segment was not sealed as last), and nothing may follow
// the last segment. A changed header changes the additional data of every
// segment and of the data key. The caller's additional data binds an object
// to its name: a sealed certificate copied under another name does not open.
const (
	streamMagic    = "OBS1"
	streamPrefix   = 7
	wrapNonceSize  = 12
	dataKeySize    = 32
	streamTagSize  = 16
	maxStreamKeyID = 255

	// StreamSegmentSize is the plaintext size of a segment: what a sealer or
	// opener holds in memory.
	StreamSegmentSize = 64 << 10
	minSegmentSize    = 1 << 10
	maxSegmentSize    = 1 << 20
)

// ErrStreamCorrupt is returned (wrapped) when a sealed stream does not open:
// tampered with, truncated, reordered, extended, or not one at all.
var ErrStreamCorrupt = errors.New("codec: sealed stream is corrupt or was tampered with")

// ErrUnknownKey is returned (wrapped) when a sealed stream names a key the
// keyring does not hold.
var ErrUnknownKey = errors.New("codec: sealed with a key this keyring does not hold")

// StreamKeyID reads the key id from the start of a sealed stream's header
// without opening it.
func StreamKeyID(header []byte) (string, error) {
	if len(header) < len(streamMagic)+1 || string(header[:len(streamMagic)]) != streamMagic {
		return "", fmt.Errorf("%w: bad magic", ErrStreamCorrupt)
	}
	n := int(header[len(streamMagic)])
	if len(header) < len(streamMagic)+1+n {
		return "", fmt.Errorf("%w: short header", ErrStreamCorrupt)
	}
	return string(header[len(streamMagic)+1 : len(streamMagic)+1+n]), nil
}

// Sealer encrypts a stream written to it; Close seals the last segment.
type Sealer struct {
	w       io.Writer
	aead    cipher.AEAD
	header  []byte
	prefix  [streamPrefix]byte
	counter uint32
	buf     []byte // plaintext of the segment being filled
	out     []byte // ciphertext scratch
	segSize int
	err     error
	closed  bool
	keyID   string
}

// NewSealer starts a sealed stream on w with the active key; ad is bound to
// the stream (pass the object's name). The header is written at once.
func (k *Keyring) NewSealer(w io.Writer, ad []byte) (*Sealer, error) {
	return k.newSealer(w, ad, StreamSegmentSize)
}

func (k *Keyring) newSealer(w io.Writer, ad []byte, segSize int) (*Sealer, error) {
	id := k.active
	if len(id) > maxStreamKeyID {
		return nil, fmt.Errorf("codec: key id %q is longer than %d bytes", id, maxStreamKeyID)
	}
	if segSize < minSegmentSize || segSize > maxSegmentSize {
		return nil, fmt.Errorf("codec: segment size %d out of range", segSize)
	}
	dataKey := make([]byte, dataKeySize)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	h := make([]byte, 0, len(streamMagic)+1+len(id)+4+wrapNonceSize+dataKeySize+streamTagSize+streamPrefix)
	h = append(h, streamMagic...)
	h = append(h, byte(len(id)))
	h = append(h, id...)
	h = binary.BigEndian.AppendUint32(h, uint32(segSize))
	wrapAD := append(bytes.Clone(h), ad...)
	nonce := make([]byte, wrapNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	h = append(h, nonce...)
	h = k.keys[id].Seal(h, nonce, dataKey, wrapAD)
	s := &Sealer{w: w, aead: aead, segSize: segSize, keyID: id,
		buf: make([]byte, 0, segSize), out: make([]byte, 0, segSize+streamTagSize)}
	if _, err := rand.Read(s.prefix[:]); err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	h = append(h, s.prefix[:]...)
	s.header = h
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return s, nil
}

// KeyID names the keyring key this stream is sealed under.
func (s *Sealer) KeyID() string { return s.keyID }

// Write buffers p and seals each full segment once more data follows it
// (only Close knows which segment is the last).
func (s *Sealer) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.closed {
		return 0, errors.New("codec: write to a closed sealer")
	}
	n := 0
	for len(p) > 0 {
		if len(s.buf) == s.segSize {
			if err := s.seal(false); err != nil {
				return n, err
			}
		}
		c := copy(s.buf[len(s.buf):s.segSize], p)
		s.buf = s.buf[:len(s.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

// Close seals what is buffered as the last segment. It does not close the
// underlying writer.
func (s *Sealer) Close() error {
	if s.err != nil {
		return s.err
	}
	if s.closed {
		return nil
	}
	s.closed = true
	return s.seal(true)
}

func (s *Sealer) seal(last bool) error {
	if s.counter == ^uint32(0) {
		s.err = errors.New("codec: stream too long")
		return s.err
	}
	nonce := segmentNonce(s.prefix, s.counter, last)
	s.out = s.aead.Seal(s.out[:0], nonce[:], s.buf, s.header)
	s.counter++
	s.buf = s.buf[:0]
	if _, err := s.w.Write(s.out); err != nil {
		s.err = err
		return err
	}
	return nil
}

// newGCM is AES-256-GCM under key (a data key or a keyring key).
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func segmentNonce(prefix [streamPrefix]byte, counter uint32, last bool) [12]byte {
	var n [12]byte
	copy(n[:], prefix[:])
	binary.BigEndian.PutUint32(n[streamPrefix:], counter)
	if last {
		n[11] = 1
	}
	return n
}

// Opener decrypts a sealed stream as it is read. Read returns an error
// wrapping ErrStreamCorrupt on any tampering, including a stream that ends
// before its last segment; io.EOF only after the last segment opened.
type Opener struct {
	r       *bufio.Reader
	aead    cipher.AEAD
	header  []byte
	prefix  [streamPrefix]byte
	counter uint32
	segSize int
	chunk   []byte // sealed segment scratch
	plain   []byte // opened bytes not yet read
	done    bool
	err     error
	keyID   string
}

// NewOpener reads and checks a sealed stream's header from r, unwrapping its
// data key with the key the header names; ad must be what the stream was
// sealed with.
func (k *Keyring) NewOpener(r io.Reader, ad []byte) (*Opener, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	fixed := make([]byte, len(streamMagic)+1)
	if _, err := io.ReadFull(br, fixed); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrStreamCorrupt, err)
	}
	if string(fixed[:len(streamMagic)]) != streamMagic {
		return nil, fmt.Errorf("%w: not a sealed stream", ErrStreamCorrupt)
	}
	rest := make([]byte, int(fixed[len(streamMagic)])+4+wrapNonceSize+dataKeySize+streamTagSize+streamPrefix)
	if _, err := io.ReadFull(br, rest); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrStreamCorrupt, err)
	}
	h := append(fixed, rest...)
	idEnd := len(streamMagic) + 1 + int(fixed[len(streamMagic)])
	id := string(h[len(streamMagic)+1 : idEnd])
	segSize := int(binary.BigEndian.Uint32(h[idEnd:]))
	if segSize < minSegmentSize || segSize > maxSegmentSize {
		return nil, fmt.Errorf("%w: segment size %d", ErrStreamCorrupt, segSize)
	}
	wrapper, ok := k.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, id)
	}
	wrapAD := append(bytes.Clone(h[:idEnd+4]), ad...)
	nonceAt := idEnd + 4
	wrappedAt := nonceAt + wrapNonceSize
	prefixAt := wrappedAt + dataKeySize + streamTagSize
	dataKey, err := wrapper.Open(nil, h[nonceAt:wrappedAt], h[wrappedAt:prefixAt], wrapAD)
	if err != nil {
		return nil, fmt.Errorf("%w: the data key does not open with key %q", ErrStreamCorrupt, id)
	}
	aead, err := newGCM(dataKey)
	if err != nil {
		return nil, fmt.Errorf("codec: %w", err)
	}
	o := &Opener{r: br, aead: aead, header: h, segSize: segSize, keyID: id,
		chunk: make([]byte, segSize+streamTagSize)}
	copy(o.prefix[:], h[prefixAt:])
	return o, nil
}

// KeyID names the keyring key the stream was sealed under.
func (o *Opener) KeyID() string { return o.keyID }

// Read returns opened plaintext.
func (o *Opener) Read(p []byte) (int, error) {
	for len(o.plain) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.done {
			return 0, io.EOF
		}
		o.next()
	}
	n := copy(p, o.plain)
	o.plain = o.plain[n:]
	return n, nil
}

// next opens the next segment into o.plain, or sets o.done or o.err.
func (o *Opener) next() {
	n, err := io.ReadFull(o.r, o.chunk)
	last := false
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// A short (or empty) segment can only be the last.
		last = true
	case err != nil:
		o.err = err
		return
	default:
		// A full segment is the last when nothing follows it.
		if _, perr := o.r.Peek(1); errors.Is(perr, io.EOF) {
			last = true
		} else if perr != nil {
			o.err = perr
			return
		}
	}
	if n < streamTagSize {
		o.err = fmt.Errorf("%w: truncated (segment %d)", ErrStreamCorrupt, o.counter)
		return
	}
	if o.counter == ^uint32(0) {
		o.err = fmt.Errorf("%w: too many segments", ErrStreamCorrupt)
		return
	}
	nonce := segmentNonce(o.prefix, o.counter, last)
	plain, oerr := o.aead.Open(o.chunk[:0], nonce[:], o.chunk[:n], o.header)
	if oerr != nil {
		if last {
			o.err = fmt.Errorf("%w: segment %d does not open as the last one (truncated or altered)", ErrStreamCorrupt, o.counter)
		} else {
			o.err = fmt.Errorf("%w: segment %d does not open (altered or reordered)", ErrStreamCorrupt, o.counter)
		}
		return
	}
	o.counter++
	o.plain = plain
	o.done = last
}
