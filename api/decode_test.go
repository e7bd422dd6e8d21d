package api

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kcloud/onboarding/internal/signup"
)

// bodies are the JSON request bodies of every endpoint that takes one.
func bodies() []func() any {
	return []func() any{
		func() any { return new(signup.AcceptTermsInput) },
		func() any { return new(signup.VerifyInput) },
		func() any { return new(signup.UserInfoInput) },
		func() any { return new(signup.OrganizationInput) },
		func() any { return new(passwordBody) },
		func() any { return new(resetRequest) },
		func() any { return new(lookupBody) },
		func() any { return new(signInBody) },
		func() any { return new(operatorBody) },
	}
}

func decodeBody(body []byte, v any) error {
	gin.SetMode(gin.ReleaseMode)
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("POST", "/", bytes.NewReader(body))
	return decode(c, v)
}

func TestDecode(t *testing.T) {
	tests := []struct {
		body   string
		status int // 0: decodes
	}{
		{`{"business_number":"220-81-62517"}`, 0},
		{`{"business_number":1}`, 422},
		{`{"business_number":"x","extra":1}`, 422},
		{`{"business_number":`, 400},
		{``, 400},
		{`  `, 400},
		{`[]`, 400},
		{`{} {}`, 400},
		{`null`, 0},
		{`{"business_number":"` + string(bytes.Repeat([]byte("9"), 1<<20)) + `"}`, 413},
	}
	for _, tt := range tests {
		var v signup.VerifyInput
		err := decodeBody([]byte(tt.body), &v)
		var p *Problem
		switch {
		case tt.status == 0 && err != nil:
			t.Errorf("%.40q: %v", tt.body, err)
		case tt.status != 0 && (!errors.As(err, &p) || p.Status != tt.status):
			t.Errorf("%.40q: %v, want %d", tt.body, err, tt.status)
		}
	}
}

// FuzzDecodeBodies feeds arbitrary bytes to the JSON decoding of every
// endpoint's body, and what decodes to the steps' validation: nothing
// panics, and every refusal is a 4xx of the contract.
func FuzzDecodeBodies(f *testing.F) {
	for _, s := range []string{`{"accepted_terms":["service","privacy"]}`, `{"business_number":"220-81-62517"}`,
		`{"organization_name":"acme","contact_name":"x","contact_email":"a@b.co","mobile_phone":"010-1234-5678"}`,
		`{"password":"Kakao!Cloud7"}`, `{"a":1}`, `{"accepted_terms":[1,2]}`, `{`, `null`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, mk := range bodies() {
			v := mk()
			err := decodeBody(body, v)
			if err != nil {
				var p *Problem
				if !errors.As(err, &p) || p.Status < 400 || p.Status > 499 || p.Code == "" {
					t.Fatalf("decode %q into %T: %v", body, v, err)
				}
				continue
			}
			switch in := v.(type) {
			case *signup.UserInfoInput:
				in.Normalize()
			case *signup.OrganizationInput:
				in.Normalize()
			}
		}
	})
}
