package signup

import (
	"strings"
	"testing"
)

func TestNormalizeInputs(t *testing.T) {
	tests := []struct {
		name   string
		in     UserInfoInput
		fields []string
	}{
		{"valid", UserInfoInput{BusinessNumber: "2208162517", BillingEmail: "B@Example.com", CompanyName: " Acme ",
			RepresentativeName: "Kim", RepresentativePhone: "02-123-4567", Address: "Seoul", BusinessType: "Service", BusinessCategory: "Software"}, nil},
		{"empty", UserInfoInput{}, []string{"business_number", "billing_email", "company_name", "representative_name",
			"representative_phone", "address", "business_type", "business_category"}},
		{"multi-line and long", UserInfoInput{BusinessNumber: "2208162517", BillingEmail: "b@example.com", CompanyName: "a\nb",
			RepresentativeName: string(make([]byte, 51)), RepresentativePhone: "02-123-4567", Address: "x", BusinessType: "x", BusinessCategory: "x"},
			[]string{"company_name", "representative_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, fields := tt.in.Normalize()
			if len(fields) != len(tt.fields) {
				t.Fatalf("fields %v, want %v", fields, tt.fields)
			}
			for _, f := range tt.fields {
				if fields[f] == "" {
					t.Errorf("no error for %s", f)
				}
			}
			if len(tt.fields) == 0 && (b.BusinessNumber != "220-81-62517" || b.BillingEmail != "b@example.com" ||
				b.CompanyName != "Acme" || b.RepresentativePhone != "+8221234567") {
				t.Errorf("normalized %+v", b)
			}
		})
	}
	o, fields := OrganizationInput{OrganizationName: "Acme-Cloud", ContactName: "Lee", ContactEmail: "Lee@Example.com", MobilePhone: "+82 10 1234 5678"}.Normalize()
	if len(fields) != 0 || o.OrganizationName != "acme-cloud" || o.ContactEmail != "lee@example.com" || o.MobilePhone != "+821012345678" {
		t.Errorf("organization %+v %v", o, fields)
	}
}

// FuzzStepInputs feeds arbitrary text to every field of steps 2 and 3: the
// normalizers never panic and their output, when valid, is valid again.
func FuzzStepInputs(f *testing.F) {
	f.Add("2208162517", "b@example.com", "Acme", "02-123-4567", "acme-cloud", "010-1234-5678")
	f.Add("", "", "\x00", "+82", "--", "0")
	f.Fuzz(func(t *testing.T, bizNo, email, text, phone, org, mobile string) {
		b, fields := UserInfoInput{BusinessNumber: bizNo, BillingEmail: email, CompanyName: text, RepresentativeName: text,
			RepresentativePhone: phone, Address: text, BusinessType: text, BusinessCategory: text}.Normalize()
		if len(fields) == 0 {
			again, f2 := UserInfoInput{BusinessNumber: b.BusinessNumber, BillingEmail: b.BillingEmail, CompanyName: b.CompanyName,
				RepresentativeName: b.RepresentativeName, RepresentativePhone: b.RepresentativePhone, Address: b.Address,
				BusinessType: b.BusinessType, BusinessCategory: b.BusinessCategory}.Normalize()
			if len(f2) != 0 || again != b {
				t.Fatalf("normalized input not stable: %+v → %+v %v", b, again, f2)
			}
		}
		o, fields := OrganizationInput{OrganizationName: org, ContactName: text, ContactEmail: email, MobilePhone: mobile}.Normalize()
		if len(fields) == 0 {
			if _, f2 := (OrganizationInput{OrganizationName: o.OrganizationName, ContactName: o.ContactName, ContactEmail: o.ContactEmail, MobilePhone: o.MobilePhone}).Normalize(); len(f2) != 0 {
				t.Fatalf("normalized organization not valid: %+v %v", o, f2)
			}
		}
	})
}

func TestCleanText(t *testing.T) {
	pad := strings.Repeat(" ", 900_000)
	tests := []struct {
		name, in, want, why string
		max                 int
	}{
		{"padding is trimmed away", pad + "Acme Korea" + pad, "Acme Korea", "", 100},
		{"decomposed Hangul is composed (NFC)", "\u1100\u1161\u11a8", "\uac01", "", 100},
		{"combining accent is composed", "Cafe\u0301", "Caf\u00e9", "", 100},
		{"characters counted after NFC", strings.Repeat("\u1100\u1161", 100), strings.Repeat("\uac00", 100), "", 100},
		{"too many characters", strings.Repeat("a", 101), "", "must be at most 100 characters", 100},
		{"too many bytes (four-byte characters)", strings.Repeat("\U0001F600", 80), "", "must be at most 300 bytes", 100},
		{"Korean at the character limit fits the bytes", strings.Repeat("가", 100), strings.Repeat("가", 100), "", 100},
		{"combining marks count as characters", "a" + strings.Repeat("\u0301", 200), "", "must be at most 100 characters", 100},
		{"control characters", "a\u0085b", "", "must be one line of text", 100},
		{"invalid UTF-8", "a\xffb", "", "must be valid UTF-8 text", 100},
		{"only spaces", pad, "", "is required", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := CleanText(tt.in, tt.max, true)
			if got != tt.want || why != tt.why {
				t.Fatalf("CleanText = %.40q, %q; want %.40q, %q", got, why, tt.want, tt.why)
			}
		})
	}
}

// What the API sends the workflow is the normalized input, and normalizing
// it again changes nothing (the workflow's validators normalize again).
func TestNormalizedInputsAreStable(t *testing.T) {
	pad := strings.Repeat(" ", 900_000)
	in := UserInfoInput{BusinessNumber: " 2208162517 ", BillingEmail: "B@Example.com", CompanyName: pad + "Acme Korea",
		RepresentativeName: "Kim", RepresentativePhone: "02-123-4567", Address: "Seoul", BusinessType: "Service", BusinessCategory: "Software"}
	n, fields := in.Normalized()
	if len(fields) != 0 || n.CompanyName != "Acme Korea" || n.BusinessNumber != "220-81-62517" || n.RepresentativePhone != "+8221234567" {
		t.Fatalf("normalized %+v %v", n, fields)
	}
	if again, f := n.Normalized(); len(f) != 0 || again != n {
		t.Fatalf("normalizing again: %+v %v", again, f)
	}
	o, fields := OrganizationInput{OrganizationName: " Acme-Cloud ", ContactName: pad + "Lee", ContactEmail: "Lee@Example.com", MobilePhone: "010-1234-5678"}.Normalized()
	if len(fields) != 0 || o.ContactName != "Lee" || o.OrganizationName != "acme-cloud" {
		t.Fatalf("organization %+v %v", o, fields)
	}
	if again, f := o.Normalized(); len(f) != 0 || again != o {
		t.Fatalf("normalizing again: %+v %v", again, f)
	}
	v, err := VerifyInput{BusinessNumber: "2208162517"}.Normalized()
	if err != nil || v.BusinessNumber != "220-81-62517" {
		t.Fatalf("verify %+v %v", v, err)
	}
	op, fields := OperatorInput{Operator: pad + "kim", Reason: "  why  "}.Normalized()
	if len(fields) != 0 || op.Operator != "kim" || op.Reason != "why" {
		t.Fatalf("operator %+v %v", op, fields)
	}
	if _, fields := (OperatorInput{Operator: strings.Repeat("x", 101)}).Normalized(); fields["operator"] == "" {
		t.Fatal("a 101-character operator name passed")
	}
}
