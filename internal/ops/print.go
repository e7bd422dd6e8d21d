package ops

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kcloud/onboarding/internal/signup"
)

// WriteTable writes sign-ups as `onboarding ops list` shows them: one
// aligned row each, the last error cut to 60 characters.
func WriteTable(w io.Writer, views []signup.AdminView) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SIGNUP ID\tSTATUS\tORGANIZATION\tUPDATED\tLAST ERROR")
	for _, v := range views {
		org, lastErr := "-", "-"
		if v.Organization != nil {
			org = v.Organization.OrganizationName
		}
		if v.LastError != nil {
			lastErr = *v.LastError
			if len(lastErr) > 60 {
				lastErr = lastErr[:60] + "…"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.SignupID, v.Status, org, v.UpdatedAt.Format(time.RFC3339), lastErr)
	}
	return tw.Flush()
}

// WriteJSON writes v as indented JSON (ops' --json, show and the actions).
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
