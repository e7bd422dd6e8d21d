package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// browser is a headless Chromium driven by chromedp, saving screenshots.
type browser struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	shots int
}

func chromium(t *testing.T) string {
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium on PATH (apt-get install chromium)")
	}
	t.Skip("no Chromium on PATH: apt-get install chromium to run the browser tests")
	return ""
}

func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1200, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	base := os.Getenv("SCREENSHOT_DIR")
	if base == "" {
		base = filepath.Join(os.TempDir(), "onboarding-screenshots")
	}
	dir := filepath.Join(base, name)
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of %s: %s", name, dir)
	fmt.Fprintf(os.Stderr, "browser test %s: screenshots in %s\n", name, dir)
	return &browser{t: t, ctx: ctx, dir: dir}
}

func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.shot("FAILED-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

// shot saves a full-page screenshot named after the step.
func (b *browser) shot(name string) {
	b.shots++
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shots, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

func (b *browser) text(sel string) string {
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// waitText waits until the element's text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : ""; })()`, sel)))
		if strings.Contains(s, want) {
			return
		}
		if time.Now().After(deadline) {
			b.shot("FAILED-wait")
			b.t.Fatalf("%s: text %q, want it to contain %q", sel, s, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// typeInto focuses a field by its label's target and types like a person.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Focus(chromedp.CSS(sel)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ""; return true; })()`, sel))(ctx, t)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS(sel), text),
	)
}

// labelFor finds the input a visible label names, the way a screen reader
// user (or the contract's checks) would.
func (b *browser) labelFor(label string) string {
	js := fmt.Sprintf(`(() => { const l = [...document.querySelectorAll("label")].find(l => l.textContent.trim() === %q && l.offsetParent !== null); return l ? l.htmlFor : ""; })()`, label)
	id, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("label %s: %v", label, err)
	}
	if id == "" {
		b.shot("FAILED-label")
		b.t.Fatalf("no visible input labelled %q", label)
	}
	return "#" + id
}

// button finds a visible button by its text.
func (b *browser) button(text string) string {
	js := fmt.Sprintf(`(() => { const x = [...document.querySelectorAll("button")].find(x => x.textContent.trim() === %q && x.offsetParent !== null); return x ? x.id : ""; })()`, text)
	id, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("button %s: %v", text, err)
	}
	if id == "" {
		b.shot("FAILED-button")
		b.t.Fatalf("no visible button %q", text)
	}
	return "#" + id
}

func (b *browser) fill(label, value string) {
	b.t.Helper()
	b.run("type "+label, typeInto(b.labelFor(label), value))
}

func (b *browser) click(text string) {
	b.t.Helper()
	b.run("click "+text, chromedp.Click(chromedp.CSS(b.button(text))))
}

func TestBrowserSignup(t *testing.T) {
	s := newStack(t)
	// Another sign-up holds "taken-web" so the wizard can show the error.
	other := s.start(t)
	other.wizard(t, "taken-web")

	b := newBrowser(t, "signup-en")
	base := s.http.URL
	cert := filepath.Join(t.TempDir(), "certificate.pdf")
	if err := os.WriteFile(cert, pdf, 0o644); err != nil {
		t.Fatal(err)
	}

	// Step 1: terms. Next without agreeing shows the error in place.
	b.run("open wizard", chromedp.Navigate(base+"/signup?lang=en"), chromedp.WaitVisible(chromedp.CSS("#step-1")))
	b.shot("terms")
	b.click("Next")
	b.waitText("#accepted_terms-error", "Agree to every required term")
	b.shot("terms-error")
	for _, title := range []string{"Cloud service terms of use", "Collection and use of personal information"} {
		if sel := b.labelFor(title); sel == "" {
			t.Fatalf("no checkbox labelled %q", title)
		}
	}
	b.click("Agree to all")
	b.click("Next")
	b.run("step 2", chromedp.WaitVisible(chromedp.CSS("#step-2")))

	// Step 2: certificate, a wrong number, then the right one.
	b.run("upload", chromedp.SetUploadFiles(chromedp.CSS(b.labelFor("Business registration certificate")), []string{cert}))
	b.waitText("#certificate-status", "Uploaded")
	b.fill("Business registration number", "123-45-67890")
	b.click("Verify")
	b.waitText("#business_number-error", "check digit")
	b.shot("wrong-business-number")
	// Reload: the wizard resumes at step 2 with the certificate kept.
	b.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#step-2")))
	b.waitText("#certificate-status", "certificate.pdf")
	b.fill("Business registration number", "2208162517")
	b.click("Verify")
	b.waitText("#business_number-status", "Verified")
	b.fill("Billing and tax invoice email", "billing@example.com")
	b.fill("Company name", "Acme Korea")
	b.fill("Representative name", "Kim Min-su")
	b.fill("Representative phone number", "02-123-4567")
	b.fill("Address", "235 Pangyo-ro, Seongnam")
	b.fill("Business type", "Service")
	b.fill("Business category", "Software")
	b.shot("user-information")
	// The keyboard submits the form.
	b.run("enter", chromedp.SendKeys(chromedp.CSS(b.labelFor("Business category")), kb.Enter))
	b.run("step 3", chromedp.WaitVisible(chromedp.CSS("#step-3")))

	// Step 3: a taken name shows its error beside the field.
	b.fill("Cloud organization name", "taken-web")
	b.click("Check")
	b.waitText("#organization_name-error", "taken-web")
	b.fill("Contact name", "Lee Ji-eun")
	b.fill("Contact email", "owner@web.example.com")
	b.fill("Mobile phone number", "010-1234-5678")
	b.click("Submit")
	b.waitText("#organization_name-error", "taken")
	b.shot("taken-name")
	b.fill("Cloud organization name", "acme-web")
	b.click("Check")
	b.waitText("#organization_name-status", "available")
	b.shot("organization")
	b.click("Submit")
	b.run("done", chromedp.WaitVisible(chromedp.CSS("#done-invited")))
	if got := b.text("#done-email"); got != "owner@web.example.com" {
		t.Errorf("check-your-email page shows %q", got)
	}
	b.waitText("#done-expires", "KST")
	b.shot("check-your-email")

	// The invitation, read from the dev mailbox page.
	b.run("mailbox", chromedp.Navigate(base+"/dev/mailbox/view"), chromedp.WaitVisible(chromedp.CSS("article")))
	b.shot("mailbox")
	token := s.link(t, "owner@web.example.com", "invitations", 10*time.Second)
	b.run("invitation", chromedp.Navigate(base+"/invitations/"+token+"?lang=en"), chromedp.WaitVisible(chromedp.CSS("#form-section")))
	b.waitText("#inv-org", "acme-web")
	b.fill("Password", "weak")
	b.fill("Confirm password", "weak")
	b.shot("password-checklist")
	b.click("Set password")
	b.waitText("#password-error", "password")
	b.fill("Password", goodPassword)
	b.fill("Confirm password", goodPassword)
	b.click("Set password")
	b.run("password set", chromedp.WaitVisible(chromedp.CSS("#done")))
	b.shot("password-set")

	// Sign in: organization → Next → email + password → Sign in.
	b.run("sign in", chromedp.Navigate(base+"/sign-in?lang=en"), chromedp.WaitVisible(chromedp.CSS("#stage-org")))
	b.fill("Cloud organization name", "acme-web")
	b.run("next", chromedp.SendKeys(chromedp.CSS(b.labelFor("Cloud organization name")), kb.Enter))
	b.run("login stage", chromedp.WaitVisible(chromedp.CSS("#stage-login")))
	b.fill("Email", "owner@web.example.com")
	b.fill("Password", goodPassword)
	b.shot("sign-in")
	b.click("Sign in")
	b.run("console", chromedp.WaitVisible(chromedp.CSS("#console")))
	b.waitText("#c-roles", "Organization administrator")
	b.waitText("#c-roles", "Billing administrator")
	if got := b.text("#c-org"); got != "acme-web" {
		t.Errorf("console organization %q", got)
	}
	ownerHidden, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.getElementById("c-owner").hidden`))
	if err != nil {
		t.Fatal(err)
	}
	if ownerHidden {
		t.Error("owner badge not shown")
	}
	b.shot("console")
}

func TestBrowserKoreanAndPhone(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t, "signup-ko-phone")
	b.run("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile))
	b.run("open", chromedp.Navigate(s.http.URL+"/signup"), chromedp.WaitVisible(chromedp.CSS("#step-1")))
	lang, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil {
		t.Fatal(err)
	}
	if lang != "ko" {
		t.Errorf("default language %q, want ko", lang)
	}
	b.waitText("#h-terms", "약관 동의")
	b.click("전체 동의")
	b.click("다음")
	b.run("step 2", chromedp.WaitVisible(chromedp.CSS("#step-2")))
	b.fill("사업자등록번호", "000-00-00000")
	b.click("인증")
	b.waitText("#business_number-error", "사업자등록번호")
	b.shot("phone-korean-error")
	overflow, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil {
		t.Fatal(err)
	}
	if overflow {
		t.Error("the page scrolls sideways at phone width")
	}
	// The switch keeps the page and changes the language.
	b.run("switch", chromedp.Click(chromedp.CSS("#lang-switch")), chromedp.WaitVisible(chromedp.CSS("#step-2")))
	b.waitText("#h-user", "User information")
	b.shot("phone-english")
}
