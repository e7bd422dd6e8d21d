package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPagesRenderInBothLanguages(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	pages := []string{PageSignup, PageInvitation, PageReset, PageResetSet, PageSignIn, PageConsole}
	tests := []struct {
		query string
		lang  string
		want  []string
	}{
		{"", "ko", []string{`lang="ko"`, "사업자등록번호", "전체 동의"}},
		{"?lang=ko", "ko", []string{`lang="ko"`}},
		{"?lang=en", "en", []string{`lang="en"`, `<label for="business_number">Business registration number</label>`,
			`<label for="billing_email">Billing and tax invoice email</label>`, ">Agree to all<", ">Verify<", ">Check<", ">Submit<",
			`<label for="term-service">Cloud service terms of use</label>`}},
	}
	for _, tt := range tests {
		for _, page := range pages {
			w := httptest.NewRecorder()
			if err := p.Render(w, httptest.NewRequest("GET", "/x"+tt.query, nil), page); err != nil {
				t.Fatalf("%s%s: %v", page, tt.query, err)
			}
			body := w.Body.String()
			if !strings.Contains(body, `lang="`+tt.lang+`"`) {
				t.Errorf("%s%s: not in %s", page, tt.query, tt.lang)
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, " onclick=") || strings.Contains(body, " style=") {
				t.Errorf("%s: inline script or style would break the CSP", page)
			}
			if page == PageSignup {
				for _, want := range tt.want {
					if !strings.Contains(body, want) {
						t.Errorf("%s%s lacks %q", page, tt.query, want)
					}
				}
			}
		}
	}
}

func TestEnglishLabelsAreTheConsoleWords(t *testing.T) {
	words := []string{"Business registration certificate", "Business registration number", "Billing and tax invoice email",
		"Company name", "Representative name", "Representative phone number", "Address", "Business type", "Business category",
		"Cloud organization name", "Contact name", "Contact email", "Mobile phone number", "Password", "Confirm password", "Email",
		"Agree to all", "Next", "Verify", "Check", "Submit", "Set password", "Sign in", "Reset password"}
	have := map[string]bool{}
	for _, v := range dict["en"] {
		have[v] = true
	}
	for _, w := range words {
		if !have[w] {
			t.Errorf("no English text %q", w)
		}
	}
	for k := range dict["en"] {
		if _, ok := dict["ko"][k]; !ok {
			t.Errorf("%s has no Korean text", k)
		}
	}
}
