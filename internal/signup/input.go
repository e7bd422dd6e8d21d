package signup

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kcloud/onboarding/internal/bizno"
	"github.com/kcloud/onboarding/internal/contact"
	"github.com/kcloud/onboarding/internal/orgname"
)

// Actor says who asked for a change, for the audit trail.
type Actor struct {
	Kind string `json:"kind"` // user, operator or system
	Name string `json:"name,omitempty"`
}

// AcceptTermsInput is step 1.
type AcceptTermsInput struct {
	AcceptedTerms []string `json:"accepted_terms"`
}

// CertificateInput attaches an uploaded certificate by its id.
type CertificateInput struct {
	CertificateID string `json:"certificate_id"`
}

// VerifyInput asks to verify a business number.
type VerifyInput struct {
	BusinessNumber string `json:"business_number"`
}

// UserInfoInput is step 2.
type UserInfoInput struct {
	BusinessNumber      string `json:"business_number"`
	BillingEmail        string `json:"billing_email"`
	CompanyName         string `json:"company_name"`
	RepresentativeName  string `json:"representative_name"`
	RepresentativePhone string `json:"representative_phone"`
	Address             string `json:"address"`
	BusinessType        string `json:"business_type"`
	BusinessCategory    string `json:"business_category"`
}

// OrganizationInput is step 3.
type OrganizationInput struct {
	OrganizationName string `json:"organization_name"`
	ContactName      string `json:"contact_name"`
	ContactEmail     string `json:"contact_email"`
	MobilePhone      string `json:"mobile_phone"`
}

// OperatorInput carries an operator's retry, resend or cancel.
type OperatorInput struct {
	Operator string `json:"operator"`
	Reason   string `json:"reason,omitempty"`
}

// text checks a required free-text field and returns it trimmed.
func text(fields Fields, name, v string, max int) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		fields[name] = "is required"
	case !utf8.ValidString(v):
		fields[name] = "must be valid UTF-8 text"
	case utf8.RuneCountInString(v) > max:
		fields[name] = "must be at most " + strconv.Itoa(max) + " characters"
	case strings.ContainsAny(v, "\x00\r\n\t"):
		fields[name] = "must be one line of text"
	}
	return v
}

// Normalize checks step 2 and returns it cleaned: the business number as
// 123-45-67890, the email lower-cased, the phone in E.164. Fields is empty
// when the input is valid.
func (in UserInfoInput) Normalize() (Business, Fields) {
	f := Fields{}
	b := Business{
		CompanyName:        text(f, "company_name", in.CompanyName, 100),
		RepresentativeName: text(f, "representative_name", in.RepresentativeName, 50),
		Address:            text(f, "address", in.Address, 200),
		BusinessType:       text(f, "business_type", in.BusinessType, 50),
		BusinessCategory:   text(f, "business_category", in.BusinessCategory, 50),
	}
	if n, err := bizno.Parse(in.BusinessNumber); err != nil {
		f["business_number"] = err.Error()
	} else {
		b.BusinessNumber = n.String()
	}
	if e, err := contact.NormalizeEmail(in.BillingEmail); err != nil {
		f["billing_email"] = err.Error()
	} else {
		b.BillingEmail = e
	}
	if p, err := contact.NormalizePhone(in.RepresentativePhone); err != nil {
		f["representative_phone"] = err.Error()
	} else {
		b.RepresentativePhone = p
	}
	return b, f
}

// Normalize checks step 3 and returns it cleaned: the name lower-cased, the
// email lower-cased, the mobile number in E.164.
func (in OrganizationInput) Normalize() (Organization, Fields) {
	f := Fields{}
	o := Organization{ContactName: text(f, "contact_name", in.ContactName, 50)}
	if n, err := orgname.Normalize(in.OrganizationName); err != nil {
		f["organization_name"] = err.Error()
	} else {
		o.OrganizationName = n
	}
	if e, err := contact.NormalizeEmail(in.ContactEmail); err != nil {
		f["contact_email"] = err.Error()
	} else {
		o.ContactEmail = e
	}
	if p, err := contact.NormalizeMobile(in.MobilePhone); err != nil {
		f["mobile_phone"] = err.Error()
	} else {
		o.MobilePhone = p
	}
	return o, f
}
