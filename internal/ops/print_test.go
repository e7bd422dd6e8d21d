package ops

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kcloud/onboarding/internal/signup"
)

func TestWriteTable(t *testing.T) {
	when := time.Date(2026, 11, 27, 3, 4, 5, 0, time.UTC)
	long := strings.Repeat("x", 70)
	short := "tax service: 503"
	views := []signup.AdminView{
		{View: signup.View{SignupID: "s-1", Status: "needs_attention", UpdatedAt: when,
			Organization: &signup.Organization{OrganizationName: "acme"}}, LastError: &long},
		{View: signup.View{SignupID: "s-2", Status: "invited", UpdatedAt: when}, LastError: &short},
		{View: signup.View{SignupID: "s-3", Status: "started", UpdatedAt: when}},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, views); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want a header and 3 rows:\n%s", len(lines), b.String())
	}
	for i, tt := range []struct{ fields []string }{
		{[]string{"SIGNUP", "ID", "STATUS", "ORGANIZATION", "UPDATED", "LAST", "ERROR"}},
		{[]string{"s-1", "needs_attention", "acme", "2026-11-27T03:04:05Z", strings.Repeat("x", 60) + "…"}},
		{[]string{"s-2", "invited", "-", "2026-11-27T03:04:05Z", "tax", "service:", "503"}},
		{[]string{"s-3", "started", "-", "2026-11-27T03:04:05Z", "-"}},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, "|") != strings.Join(tt.fields, "|") {
			t.Errorf("line %d = %q, want fields %q", i, lines[i], tt.fields)
		}
	}
	// The columns are aligned: STATUS starts at the same offset on every line.
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if l[col-2:col] != "  " || l[col] == ' ' {
			t.Errorf("column STATUS not at %d in %q", col, l)
		}
	}
}

func TestWriteJSONIsIndentedAndRoundTrips(t *testing.T) {
	in := signup.AdminView{View: signup.View{SignupID: "s-1", Status: "active"}, WorkflowID: "signup-s-1"}
	var b bytes.Buffer
	if err := WriteJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n  \"signup_id\": \"s-1\"") {
		t.Errorf("not indented by two spaces:\n%s", b.String())
	}
	var out signup.AdminView
	if err := json.Unmarshal(b.Bytes(), &out); err != nil || out.SignupID != "s-1" || out.WorkflowID != "signup-s-1" {
		t.Errorf("round trip: %+v, %v", out, err)
	}
}
