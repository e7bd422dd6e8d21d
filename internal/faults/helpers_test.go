package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/kcloud/onboarding/internal/bizno"
)

// newSignup is a new sign-up as POST /api/v1/signups answers it.
type newSignup struct {
	SignupID    string `json:"signup_id"`
	SignupToken string `json:"signup_token"`
}

// create starts a sign-up (terms accepted); the test stops if that fails.
func (r *run) create(ctx context.Context) newSignup {
	r.t.Helper()
	var c newSignup
	r.call(ctx, http.MethodPost, "/api/v1/signups", "", "application/json", []byte(`{"accepted_terms":["service","privacy"]}`), 201, &c)
	if r.t.Failed() {
		r.t.FailNow()
	}
	return c
}

// submitOne takes one sign-up through the wizard to submit and returns its id.
func (r *run) submitOne(ctx context.Context, n int) string {
	t := r.t
	org := fmt.Sprintf("att-%d-%d", time.Now().UnixNano()%1e6, n)
	var created newSignup
	r.call(ctx, http.MethodPost, "/api/v1/signups", "", "application/json", []byte(`{"accepted_terms":["service","privacy"]}`), 201, &created)
	base := "/api/v1/signups/" + created.SignupID
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "c.pdf")
	_, _ = fw.Write([]byte("%PDF-1.4\n"))
	_ = mw.Close()
	r.call(ctx, http.MethodPost, base+"/certificate", created.SignupToken, mw.FormDataContentType(), buf.Bytes(), 201, nil)
	// A business of its own: one number has at most
	// MAX_OPEN_SIGNUPS_PER_BUSINESS open sign-ups.
	number := bizno.Make(int(time.Now().UnixNano()%1e8) + n).String()
	r.call(ctx, http.MethodPost, base+"/business-number/verify", created.SignupToken, "application/json", []byte(`{"business_number":"`+number+`"}`), 200, nil)
	info, _ := json.Marshal(map[string]string{"business_number": number, "billing_email": "b@example.com", "company_name": "Acme",
		"representative_name": "Kim", "representative_phone": "02-123-4567", "address": "Seoul", "business_type": "Service", "business_category": "Software"})
	r.call(ctx, http.MethodPut, base+"/user-info", created.SignupToken, "application/json", info, 200, nil)
	orgBody, _ := json.Marshal(map[string]string{"organization_name": org, "contact_name": "Lee", "contact_email": "o@" + org + ".example.com", "mobile_phone": "010-1234-5678"})
	r.call(ctx, http.MethodPut, base+"/organization", created.SignupToken, "application/json", orgBody, 200, nil)
	r.call(ctx, http.MethodPost, base+"/submit", created.SignupToken, "", nil, 202, nil)
	if t.Failed() {
		t.FailNow()
	}
	return created.SignupID
}

func (r *run) call(ctx context.Context, method, path, token, contentType string, body []byte, want int, out any) {
	req, _ := http.NewRequestWithContext(ctx, method, r.topo.APIURL+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Errorf("%s %s: %v", method, path, err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		r.t.Errorf("%s %s: %d %s", method, path, res.StatusCode, b.String())
		return
	}
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
}

// waitAll waits until every sign-up has the status.
func (r *run) waitAll(ctx context.Context, ids []string, status string) {
	r.t.Helper()
	for _, id := range ids {
		for {
			var st string
			if err := r.db.Raw("SELECT status FROM signups WHERE id = ?", id).Scan(&st).Error; err != nil {
				r.t.Fatal(err)
			}
			if st == status {
				break
			}
			if ctx.Err() != nil {
				r.t.Fatalf("sign-up %s is %q, want %q", id, st, status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// answerActive answers a tax-service status request: every number asked
// about is in business (b_stt_cd 01).
func answerActive(w http.ResponseWriter, req *http.Request) {
	var body struct {
		BNo []string `json:"b_no"`
	}
	_ = json.NewDecoder(req.Body).Decode(&body)
	var data []map[string]string
	for _, n := range body.BNo {
		data = append(data, map[string]string{"b_no": n, "b_stt_cd": "01"})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"status_code": "OK", "data": data})
}
