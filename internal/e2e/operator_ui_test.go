package e2e

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/devserver"
	"github.com/kcloud/onboarding/internal/freeport"
)

// An operator opens the Temporal UI, filters by SignupStatus, opens a
// sign-up and reads its decoded input only after logging in to the codec
// server with the operator token.
func TestBrowserOperatorDecodesInTemporalUI(t *testing.T) {
	port, err := freeport.On("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	uiAddr := "127.0.0.1:" + strconv.Itoa(port)
	s := newStack(t, func(c *config.Config) { c.CodecCORSOrigins = []string{"http://" + uiAddr} })
	j := s.start(t)
	j.wizard(t, "ui-ops-co")
	j.waitStatus(t, "invited", 10*time.Second)

	ui, err := devserver.StartUI(uiAddr, temporalAddr, "default", s.http.URL+"/codec")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ui.Stop)
	for i := 0; i < 50; i++ {
		if res, err := http.Get("http://" + uiAddr + "/"); err == nil {
			res.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	b := newBrowser(t, "operator-ui")
	workflowPage := "http://" + uiAddr + "/namespaces/default/workflows/signup-" + j.id
	// Before logging in, the UI cannot decode the sign-up.
	b.run("workflow before login", chromedp.Navigate(workflowPage))
	time.Sleep(3 * time.Second)
	b.shot("workflow-before-login")
	if strings.Contains(b.pageText(), "TokenHash") {
		t.Error("the UI shows decoded input before the operator logged in")
	}

	b.run("codec login", chromedp.Navigate(s.http.URL+"/codec/login"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.run("token", chromedp.SendKeys(chromedp.CSS("#token"), s.codec), chromedp.Click(chromedp.CSS("button")))
	b.waitPage("Logged in")
	b.shot("codec-login")

	list := "http://" + uiAddr + "/namespaces/default/workflows?query=" + url.QueryEscape(`SignupStatus="invited" AND OrganizationName="ui-ops-co"`)
	b.run("list", chromedp.Navigate(list))
	b.waitPage("signup-" + j.id)
	b.shot("filtered-by-status")
	b.run("workflow", chromedp.Navigate(workflowPage))
	b.waitPage("TokenHash")
	b.shot("workflow-decoded")
}

func (b *browser) pageText() string {
	s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// waitPage waits for text anywhere on the page.
func (b *browser) waitPage(want string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.pageText(), want) {
		if time.Now().After(deadline) {
			b.shot("FAILED-page")
			b.t.Fatalf("page never showed %q", want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
