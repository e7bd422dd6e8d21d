package codec

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestRoundTripAndRotation(t *testing.T) {
	old := NewKeySpec("k1")
	kr1, err := ParseKeyring(old)
	if err != nil {
		t.Fatal(err)
	}
	dc1 := DataConverter(kr1)
	p, err := dc1.ToPayload(map[string]string{"email": "owner@example.com", "phone": "+821012345678"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.Data, []byte("owner@example.com")) || string(p.Metadata[MetadataKeyID]) != "k1" {
		t.Fatalf("payload not sealed: %q %v", p.Data, p.Metadata)
	}
	// Rotate: k2 seals new payloads, k1 still opens old ones.
	kr2, err := ParseKeyring(NewKeySpec("k2") + "," + old)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := DataConverter(kr2).FromPayload(p, &got); err != nil || got["email"] != "owner@example.com" {
		t.Fatalf("old payload after rotation: %v, %v", got, err)
	}
	p2, _ := DataConverter(kr2).ToPayload("x")
	if string(p2.Metadata[MetadataKeyID]) != "k2" {
		t.Errorf("new payload sealed with %q", p2.Metadata[MetadataKeyID])
	}
	// A payload from before encryption passes through.
	plain, _ := converter.GetDefaultDataConverter().ToPayload("hello")
	var s string
	if err := DataConverter(kr2).FromPayload(plain, &s); err != nil || s != "hello" {
		t.Errorf("plain payload: %q, %v", s, err)
	}
	// Without the key, nothing opens.
	kr3, _ := ParseKeyring(NewKeySpec("k3"))
	if err := DataConverter(kr3).FromPayload(p, &got); err == nil {
		t.Error("opened with an unknown key")
	}
	// Tampering is detected.
	p.Data[len(p.Data)-1] ^= 1
	if err := dc1.FromPayload(p, &got); err == nil {
		t.Error("tampered payload opened")
	}
}

func TestParseKeyring(t *testing.T) {
	for _, bad := range []string{"", "k1", "k1:short", "k1:" + strings.Repeat("A", 44), NewKeySpec("a") + "," + NewKeySpec("a")} {
		if _, err := ParseKeyring(bad); err == nil {
			t.Errorf("ParseKeyring(%q) accepted", bad)
		}
	}
}

func TestServer(t *testing.T) {
	kr, _ := ParseKeyring(NewKeySpec("k1"))
	sessions := NewSessions(0)
	h := Handler(kr, ServerOptions{Token: "op", AllowedOrigins: []string{"http://ui.test"}}, sessions)
	sealed, _ := DataConverter(kr).ToPayload("secret@example.com")
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{sealed}})
	tests := []struct {
		name   string
		auth   string
		status int
	}{{"no token", "", 401}, {"wrong token", "Bearer nope", 401}, {"operator token", "Bearer op", 200}}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, "/codec/decode", bytes.NewReader(body))
		req.Header.Set("Origin", "http://ui.test")
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != tt.status {
			t.Fatalf("%s: %d %s", tt.name, w.Code, w.Body)
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "http://ui.test" {
			t.Errorf("%s: no CORS for the UI origin", tt.name)
		}
		if tt.status == 200 && !strings.Contains(w.Body.String(), "InNlY3JldEBleGFtcGxlLmNvbSI") { // base64 of "secret@example.com" JSON
			t.Errorf("decode answered %s", w.Body)
		}
	}
	req := httptest.NewRequest(http.MethodOptions, "/codec/decode", nil)
	req.Header.Set("Origin", "http://evil.test")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS allowed a foreign origin")
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	kr, _ := ParseKeyring(NewKeySpec("k1"))
	dc := DataConverter(kr)
	view := map[string]any{"signup_id": "0b9c3c9e-2f8e-4e43-9a0c-3f0d8d2b8d11", "status": "ready",
		"business":     map[string]string{"company_name": "Acme Korea", "billing_email": "billing@example.com", "address": "235 Pangyo-ro"},
		"organization": map[string]string{"organization_name": "acme-cloud", "contact_email": "owner@example.com", "mobile_phone": "+821012345678"}}
	for b.Loop() {
		p, err := dc.ToPayload(view)
		if err != nil {
			b.Fatal(err)
		}
		var out map[string]any
		if err := dc.FromPayload(p, &out); err != nil {
			b.Fatal(err)
		}
	}
}
