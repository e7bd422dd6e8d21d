// Package codec encrypts the payloads the service puts in Temporal — workflow
// inputs and results, Update arguments, activity inputs and outputs — with
// AES-256-GCM, so that workflow histories hold no readable personal data.
// Each payload names the key it was sealed with; a keyring keeps old keys so
// that old payloads stay readable after a rotation.
package codec

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload.
const (
	EncodingEncrypted = "binary/encrypted"
	MetadataEncoding  = converter.MetadataEncoding
	MetadataKeyID     = "encryption-key-id"
)

// Keyring holds the encryption keys by id; the active one seals new payloads.
type Keyring struct {
	active string
	keys   map[string]cipher.AEAD
}

// ParseKeyring reads "id:base64key[,id:base64key…]": 32-byte keys in
// standard base64; the first is the active one.
func ParseKeyring(spec string) (*Keyring, error) {
	kr := &Keyring{keys: map[string]cipher.AEAD{}}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok || id == "" || strings.ContainsAny(id, " \t") {
			return nil, fmt.Errorf("codec: key %q: want id:base64key", redact(part))
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("codec: key %q must be 32 bytes in base64", id)
		}
		if _, dup := kr.keys[id]; dup {
			return nil, fmt.Errorf("codec: key id %q given twice", id)
		}
		aead, err := newGCM(raw)
		if err != nil {
			return nil, fmt.Errorf("codec: key %q: %w", id, err)
		}
		kr.keys[id] = aead
		if kr.active == "" {
			kr.active = id
		}
	}
	if kr.active == "" {
		return nil, errors.New("codec: no keys")
	}
	return kr, nil
}

func redact(s string) string {
	id, _, _ := strings.Cut(s, ":")
	return id + ":…"
}

// NewKeySpec returns a fresh random key as "id:base64key".
func NewKeySpec(id string) string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return id + ":" + base64.StdEncoding.EncodeToString(k)
}

// ActiveKeyID names the key new payloads are sealed with.
func (k *Keyring) ActiveKeyID() string { return k.active }

// Codec is a converter.PayloadCodec over a keyring.
type Codec struct{ kr *Keyring }

// New returns the codec of a keyring.
func New(kr *Keyring) *Codec { return &Codec{kr: kr} }

// Encode seals each payload (its whole protobuf form) with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.kr.keys[c.kr.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:    []byte(c.kr.active),
			},
			Data: aead.Seal(nonce, nonce, plain, []byte(c.kr.active)),
		}
	}
	return out, nil
}

// Decode opens sealed payloads with the key they name and passes the others
// (written before encryption was on) through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.Metadata[MetadataKeyID])
		aead, ok := c.kr.keys[id]
		if !ok {
			return nil, fmt.Errorf("codec: payload sealed with unknown key %q", id)
		}
		if len(p.Data) < aead.NonceSize() {
			return nil, errors.New("codec: sealed payload too short")
		}
		nonce, sealed := p.Data[:aead.NonceSize()], p.Data[aead.NonceSize():]
		plain, err := aead.Open(nil, nonce, sealed, []byte(id))
		if err != nil {
			return nil, fmt.Errorf("codec: open payload with key %q: %w", id, err)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return nil, fmt.Errorf("codec: %w", err)
		}
		out[i] = &orig
	}
	return out, nil
}

// DataConverter encrypts with kr on top of the default converter; nil kr
// returns the default converter.
func DataConverter(kr *Keyring) converter.DataConverter {
	if kr == nil {
		return converter.GetDefaultDataConverter()
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), New(kr))
}

// FailureConverter also encrypts failure messages and stack traces, which
// may quote what went wrong with someone's data.
func FailureConverter(dc converter.DataConverter) converter.FailureConverter {
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{DataConverter: dc, EncodeCommonAttributes: true})
}
