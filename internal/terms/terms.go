// Package terms is the catalog of terms a sign-up agrees to.
package terms

import "slices"

// Term is one agreement shown in step 1 of the wizard.
type Term struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	TitleKO  string `json:"title_ko"`
	Version  string `json:"version"`
	Required bool   `json:"required"`
}

// Catalog returns the terms in display order.
func Catalog() []Term {
	return []Term{
		{ID: "service", Title: "Cloud service terms of use", TitleKO: "클라우드 서비스 이용약관", Version: "2026-01-01", Required: true},
		{ID: "privacy", Title: "Collection and use of personal information", TitleKO: "개인정보 수집 및 이용 동의", Version: "2026-01-01", Required: true},
		{ID: "marketing", Title: "Marketing and event notifications", TitleKO: "마케팅 정보 수신 동의", Version: "2026-01-01", Required: false},
	}
}

// Check validates a list of accepted term ids. It returns the ids that are
// not in the catalog, and the required ids that are missing.
func Check(accepted []string) (unknown, missing []string) {
	cat := Catalog()
	known := make([]string, 0, len(cat))
	for _, t := range cat {
		known = append(known, t.ID)
		if t.Required && !slices.Contains(accepted, t.ID) {
			missing = append(missing, t.ID)
		}
	}
	for _, id := range accepted {
		if !slices.Contains(known, id) && !slices.Contains(unknown, id) {
			unknown = append(unknown, id)
		}
	}
	return unknown, missing
}

// Normalize returns accepted ids de-duplicated in catalog order.
func Normalize(accepted []string) []string {
	out := []string{}
	for _, t := range Catalog() {
		if slices.Contains(accepted, t.ID) {
			out = append(out, t.ID)
		}
	}
	return out
}
