package api

import (
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
)

var mailboxPage = template.Must(template.New("mailbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev mailbox</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}article{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:.75rem}h2{font-size:1.05rem;margin:.2rem 0}.meta{color:#555;font-size:.9rem}</style></head>
<body><h1>Dev mailbox</h1><p>{{len .}} message(s), newest first. Captured over SMTP by <code>onboarding dev</code>; JSON at <a href="/dev/mailbox">/dev/mailbox</a>.</p>
{{range .}}<article><h2>{{.Subject}}</h2><p class="meta">To {{range .To}}{{.}} {{end}}· from {{.From}} · {{.ReceivedAt.Format "2006-01-02 15:04:05 MST"}}</p><pre>{{.Text}}</pre></article>
{{else}}<p>No mail yet.</p>{{end}}</body></html>`))

func (s *Server) devMailboxView(c *gin.Context) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	if err := mailboxPage.Execute(c.Writer, s.mailbox.List()); err != nil {
		s.log.Error("render mailbox", "error", err)
	}
}
