package mailer

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"
)

// KST is Korea Standard Time (UTC+9, no daylight saving).
var kst = time.FixedZone("KST", 9*60*60)

// Invitation is the data of an invitation or reminder mail.
type Invitation struct {
	OrganizationName string
	ContactName      string
	Email            string
	Link             string
	ExpiresAt        time.Time
	Reminder         bool
}

// PasswordReset is the data of a password-reset mail.
type PasswordReset struct {
	OrganizationName string
	Email            string
	Link             string
	ExpiresAt        time.Time
}

type inviteData struct {
	Invitation
	ExpiresKST, ExpiresUTC string
}

type resetData struct {
	PasswordReset
	ExpiresKST, ExpiresUTC string
}

func times(t time.Time) (string, string) {
	return t.In(kst).Format("2006-01-02 15:04 KST"), t.UTC().Format("2006-01-02 15:04 UTC")
}

const inviteText = `{{if .Reminder}}[Reminder] {{end}}You are invited to the cloud organization "{{.OrganizationName}}".
{{if .Reminder}}[알림] {{end}}클라우드 조직 "{{.OrganizationName}}"에 초대되었습니다.

Hello {{.ContactName}},

You are the owner of the organization {{.OrganizationName}}, with the Organization
administrator and Billing administrator roles. Your login ID is {{.Email}}.
Set your password with this link:

{{.Link}}

The link expires at {{.ExpiresKST}} ({{.ExpiresUTC}}).{{if .Reminder}} Earlier links no longer work.{{end}}
After that, use "Reset password" on the sign-in page.

아래 링크에서 {{.ExpiresKST}} ({{.ExpiresUTC}})까지 비밀번호를 설정하세요.
기한이 지나면 로그인 화면의 "비밀번호 재설정"을 이용하세요.
`

const inviteHTML = `<!doctype html>
<html lang="en"><body style="font-family:sans-serif;line-height:1.5">
<p>{{if .Reminder}}<strong>Reminder:</strong> {{end}}You are invited to the cloud organization <strong>{{.OrganizationName}}</strong>.<br>
클라우드 조직 <strong>{{.OrganizationName}}</strong>에 초대되었습니다.</p>
<p>Hello {{.ContactName}},</p>
<p>You are the owner of <strong>{{.OrganizationName}}</strong>, with the Organization administrator and
Billing administrator roles. Your login ID is <strong>{{.Email}}</strong>.</p>
<p><a href="{{.Link}}">Set your password / 비밀번호 설정</a></p>
<p>The link expires at <strong>{{.ExpiresKST}}</strong> ({{.ExpiresUTC}}).{{if .Reminder}} Earlier links no longer work.{{end}}
After that, use “Reset password” on the sign-in page.<br>
링크는 {{.ExpiresKST}} ({{.ExpiresUTC}})에 만료됩니다. 이후에는 로그인 화면의 “비밀번호 재설정”을 이용하세요.</p>
<p style="color:#666;font-size:small">{{.Link}}</p>
</body></html>`

const resetText = `Reset your password for the cloud organization "{{.OrganizationName}}".
클라우드 조직 "{{.OrganizationName}}"의 비밀번호 재설정 안내입니다.

Login ID: {{.Email}}

{{.Link}}

The link works once and expires at {{.ExpiresKST}} ({{.ExpiresUTC}}).
If you did not ask for this, ignore this mail.
링크는 한 번만 쓸 수 있으며 {{.ExpiresKST}} ({{.ExpiresUTC}})에 만료됩니다.
`

const resetHTML = `<!doctype html>
<html lang="en"><body style="font-family:sans-serif;line-height:1.5">
<p>Reset your password for the cloud organization <strong>{{.OrganizationName}}</strong>.<br>
클라우드 조직 <strong>{{.OrganizationName}}</strong>의 비밀번호 재설정 안내입니다.</p>
<p>Login ID: <strong>{{.Email}}</strong></p>
<p><a href="{{.Link}}">Reset password / 비밀번호 재설정</a></p>
<p>The link works once and expires at <strong>{{.ExpiresKST}}</strong> ({{.ExpiresUTC}}).
If you did not ask for this, ignore this mail.</p>
<p style="color:#666;font-size:small">{{.Link}}</p>
</body></html>`

var (
	inviteTextT = texttemplate.Must(texttemplate.New("invite").Parse(inviteText))
	inviteHTMLT = htmltemplate.Must(htmltemplate.New("invite").Parse(inviteHTML))
	resetTextT  = texttemplate.Must(texttemplate.New("reset").Parse(resetText))
	resetHTMLT  = htmltemplate.Must(htmltemplate.New("reset").Parse(resetHTML))
)

func render(text *texttemplate.Template, html *htmltemplate.Template, data any) (string, string, error) {
	var t, h bytes.Buffer
	if err := text.Execute(&t, data); err != nil {
		return "", "", fmt.Errorf("mailer: render: %w", err)
	}
	if err := html.Execute(&h, data); err != nil {
		return "", "", fmt.Errorf("mailer: render: %w", err)
	}
	return t.String(), h.String(), nil
}

// InvitationMessage renders an invitation (or its reminder) to inv.Email.
func InvitationMessage(inv Invitation, messageID string) (Message, error) {
	k, u := times(inv.ExpiresAt)
	text, html, err := render(inviteTextT, inviteHTMLT, inviteData{Invitation: inv, ExpiresKST: k, ExpiresUTC: u})
	if err != nil {
		return Message{}, err
	}
	subject := fmt.Sprintf("Set your password for the cloud organization %s / 클라우드 조직 %s 초대", inv.OrganizationName, inv.OrganizationName)
	if inv.Reminder {
		subject = "[Reminder] " + subject
	}
	return Message{To: inv.Email, Subject: subject, Text: text, HTML: html, MessageID: messageID}, nil
}

// PasswordResetMessage renders a password-reset mail to r.Email.
func PasswordResetMessage(r PasswordReset, messageID string) (Message, error) {
	k, u := times(r.ExpiresAt)
	text, html, err := render(resetTextT, resetHTMLT, resetData{PasswordReset: r, ExpiresKST: k, ExpiresUTC: u})
	if err != nil {
		return Message{}, err
	}
	subject := fmt.Sprintf("Reset your password for %s / %s 비밀번호 재설정", r.OrganizationName, r.OrganizationName)
	return Message{To: r.Email, Subject: subject, Text: text, HTML: html, MessageID: messageID}, nil
}
