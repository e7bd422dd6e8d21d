package signup

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/kcloud/onboarding/internal/bizno"
	"github.com/kcloud/onboarding/internal/contact"
	"github.com/kcloud/onboarding/internal/orgname"
)

// Actor says who asked for a change, for the audit trail.
type Actor struct {
	Kind ActorKind `json:"kind"`
	Name string    `json:"name,omitempty"`
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

// text checks a required free-text field and returns it normalized: trimmed,
// in Unicode NFC (so that the same name typed on two keyboards is the same
// string), one line without control characters, at most max characters and
// bytesPerChar×max bytes. The returned value, never the raw one, is what goes
// on (into the workflow's history, the read model, the database).
func text(fields Fields, name, v string, max int) string {
	v, why := CleanText(v, max, true)
	if why != "" {
		fields[name] = why
	}
	return v
}

// CleanText normalizes free text as text does and says what is wrong with it
// ("" when nothing is). An optional field may be empty.
func CleanText(v string, max int, required bool) (string, string) {
	if !utf8.ValidString(v) {
		return "", "must be valid UTF-8 text"
	}
	// Trimming first makes padding free to carry and impossible to keep: a
	// field of 900,000 spaces and a name is the name.
	v = norm.NFC.String(strings.TrimSpace(v))
	switch {
	case v == "" && required:
		return v, "is required"
	case strings.ContainsFunc(v, unicode.IsControl):
		return "", "must be one line of text"
	case utf8.RuneCountInString(v) > max:
		return "", "must be at most " + strconv.Itoa(max) + " characters"
	case len(v) > bytesPerChar*max:
		return "", "must be at most " + strconv.Itoa(bytesPerChar*max) + " bytes"
	}
	return v, ""
}

// bytesPerChar bounds a text field's bytes: three a character, what Hangul,
// CJK and every other character of the Basic Multilingual Plane take in
// UTF-8, so that only a field full of four-byte characters (emoji) meets the
// byte bound before the character one.
const bytesPerChar = 3

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

// The API sends the workflow only normalized inputs: what enters the
// workflow's history is what was validated, never the raw request body. The
// workflow's validators check them again (normalizing is idempotent).

// Normalized returns the Verify input with the number written 123-45-67890,
// or why it is not a business number.
func (in VerifyInput) Normalized() (VerifyInput, error) {
	n, err := bizno.Parse(in.BusinessNumber)
	if err != nil {
		return VerifyInput{}, err
	}
	return VerifyInput{BusinessNumber: n.String()}, nil
}

// Normalized returns step 2 with every field normalized, or the fields that
// are not valid.
func (in UserInfoInput) Normalized() (UserInfoInput, Fields) {
	b, f := in.Normalize()
	if len(f) > 0 {
		return UserInfoInput{}, f
	}
	return UserInfoInput{BusinessNumber: b.BusinessNumber, BillingEmail: b.BillingEmail, CompanyName: b.CompanyName,
		RepresentativeName: b.RepresentativeName, RepresentativePhone: b.RepresentativePhone, Address: b.Address,
		BusinessType: b.BusinessType, BusinessCategory: b.BusinessCategory}, nil
}

// Normalized returns step 3 with every field normalized, or the fields that
// are not valid.
func (in OrganizationInput) Normalized() (OrganizationInput, Fields) {
	o, f := in.Normalize()
	if len(f) > 0 {
		return OrganizationInput{}, f
	}
	return OrganizationInput{OrganizationName: o.OrganizationName, ContactName: o.ContactName,
		ContactEmail: o.ContactEmail, MobilePhone: o.MobilePhone}, nil
}

// Normalized returns an operator's input trimmed and in NFC: the operator's
// name (at most 100 characters) and an optional reason (at most 500).
func (in OperatorInput) Normalized() (OperatorInput, Fields) {
	f := Fields{}
	op, why := CleanText(in.Operator, 100, true)
	if why != "" {
		f["operator"] = why
	}
	reason, why := CleanText(in.Reason, 500, false)
	if why != "" {
		f["reason"] = why
	}
	if len(f) > 0 {
		return OperatorInput{}, f
	}
	return OperatorInput{Operator: op, Reason: reason}, nil
}
