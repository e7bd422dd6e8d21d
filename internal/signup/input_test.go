package signup

import "testing"

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
