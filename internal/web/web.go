// Package web serves the pages people use — the sign-up wizard, the
// invitation and reset pages, sign-in and the console — from files embedded
// in the binary. The pages call only the public API; the server renders
// their labels in the chosen language (Korean unless ?lang=en).
package web

import (
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/kcloud/onboarding/internal/terms"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Pages renders the pages.
type Pages struct {
	tmpl   *template.Template
	assets http.Handler
}

// New parses the embedded templates.
func New() (*Pages, error) {
	t, err := template.New("").Funcs(template.FuncMap{}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	return &Pages{tmpl: t, assets: http.StripPrefix("/assets/", http.FileServer(http.FS(sub)))}, nil
}

// Assets serves /assets/….
func (p *Pages) Assets() http.Handler { return p.assets }

// Page names, one template each.
const (
	PageSignup     = "signup"
	PageInvitation = "invitation"
	PageReset      = "reset"
	PageResetSet   = "reset-confirm"
	PageSignIn     = "signin"
	PageConsole    = "console"
)

type data struct {
	Lang     string
	Other    string // the other language
	Page     string
	T        map[string]string
	Terms    []termView
	Messages string // the dictionary as JSON, for the scripts
}

type termView struct {
	ID       string
	Title    string
	Required bool
}

// Lang picks the language of a request: ?lang=en or ?lang=ko, Korean by default.
func Lang(r *http.Request) string {
	if strings.EqualFold(r.URL.Query().Get("lang"), "en") {
		return "en"
	}
	return "ko"
}

// Render writes a page in the request's language.
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, page string) error {
	lang := Lang(r)
	d := data{Lang: lang, Other: "en", Page: page, T: dict[lang]}
	if lang == "en" {
		d.Other = "ko"
	}
	for _, t := range terms.Catalog() {
		title := t.TitleKO
		if lang == "en" {
			title = t.Title
		}
		d.Terms = append(d.Terms, termView{ID: t.ID, Title: title, Required: t.Required})
	}
	msgs, err := json.Marshal(dict[lang])
	if err != nil {
		return err
	}
	d.Messages = string(msgs)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return p.tmpl.ExecuteTemplate(w, page+".html", d)
}

// MustNew is New for the embedded files, which are known to parse (a test
// proves it).
func MustNew() *Pages {
	p, err := New()
	if err != nil {
		panic(err)
	}
	return p
}

// ContentSecurityPolicy allows nothing but this origin's files: no inline
// script or style, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
