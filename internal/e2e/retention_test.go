package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/kcloud/onboarding/internal/app"
	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/certstore/certstoretest"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/internal/ops"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
	"github.com/kcloud/onboarding/workflows"
)

// marked is a certificate whose every run of bytes is recognizable: a
// plaintext copy of any of it shows.
func marked(n int) ([]byte, []byte) {
	marker := []byte("%PDF-1.4 CERTIFICATE-OF-ACME-KOREA-2208162517 ")
	var b bytes.Buffer
	for b.Len() < n {
		b.Write(marker)
	}
	return b.Bytes()[:n], marker[:24]
}

// storeDir is the directory of a file:// CERTIFICATE_STORE.
func storeDir(t *testing.T, s *stack) string {
	t.Helper()
	dir, ok := strings.CutPrefix(s.cfg.CertificateStore, "file://")
	if !ok {
		t.Fatalf("not a file store: %s", s.cfg.CertificateStore)
	}
	return dir
}

// databaseHolds reports whether any byte of the application database holds
// needle: for SQLite every byte of its files, for PostgreSQL every row of
// every application table as text.
func databaseHolds(t *testing.T, s *stack, needle []byte) []string {
	t.Helper()
	if s.db.Dialect == "sqlite" {
		path := strings.TrimPrefix(s.cfg.DatabaseURL, "sqlite://")
		var hits []string
		for _, p := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Contains(b, needle) {
				hits = append(hits, p)
			}
		}
		return hits
	}
	var tables []string
	if err := s.db.Raw("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'").
		Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, tbl := range tables {
		var n int64
		// Text and bytea alike: the row's text form shows bytea as hex, so
		// look for the needle both ways.
		q := `SELECT COUNT(*) FROM "` + tbl + `" t WHERE position(? in t::text) > 0 OR position(? in t::text) > 0`
		if err := s.db.Raw(q, string(needle), hexOf(needle)).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			hits = append(hits, tbl)
		}
	}
	return hits
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// The certificate is in neither the database nor the store in plain: not
// on the file backend, and not on a real S3 server.
func TestCertificatesSealedAtRest(t *testing.T) {
	stores := map[string]func(*config.Config) (dir string){
		"file": func(c *config.Config) string {
			url, dir := certstoretest.FileURL(t)
			c.CertificateStore = url
			return dir
		},
	}
	if certstoretest.Binary() != "" || os.Getenv("CI_REQUIRE_S3") == "1" {
		stores["s3"] = func(c *config.Config) string {
			s3 := certstoretest.StartS3(t)
			c.CertificateStore = s3.URL
			return s3.Dir
		}
	}
	for name, configure := range stores {
		t.Run(name, func(t *testing.T) {
			var dir string
			s := newStack(t, func(c *config.Config) { dir = configure(c) })
			j := s.start(t)
			doc, marker := marked(3 << 20)
			r := s.upload(j.id, j.token, "certificate.pdf", doc)
			expect(t, "upload", r, http.StatusCreated, "")
			if r.str("certificate", "content_type") != "application/pdf" || r.get("certificate", "size") != float64(len(doc)) {
				t.Fatalf("upload: %s", r.raw)
			}
			var c models.Certificate
			if err := s.db.Where("signup_id = ?", j.id).Take(&c).Error; err != nil {
				t.Fatal(err)
			}
			if c.Data != nil || c.ObjectKey == nil || c.State != certstore.StateStored || c.SHA256 != r.str("certificate", "sha256") {
				t.Fatalf("row: %+v", c)
			}
			if hits := databaseHolds(t, s, marker); len(hits) > 0 {
				t.Errorf("the database holds the certificate in plain: %v", hits)
			}
			if hits := certstoretest.FilesContaining(t, dir, marker); len(hits) > 0 {
				t.Errorf("the store holds the certificate in plain: %v", hits)
			}
			// The check finds a certificate kept the old way, in the database.
			canary := models.Certificate{ID: "canary-" + j.id, SignupID: "canary", Filename: "c.pdf", ContentType: "application/pdf",
				Size: int64(len(doc)), SHA256: c.SHA256, Data: doc, CreatedAt: time.Now().UTC()}
			if err := s.db.Create(&canary).Error; err != nil {
				t.Fatal(err)
			}
			if hits := databaseHolds(t, s, marker); len(hits) == 0 {
				t.Error("the database check does not see a certificate stored in plain")
			}
			s.db.Where("id = ?", canary.ID).Delete(&models.Certificate{})
			// It is there, sealed: it opens to the upload.
			rd, err := s.rt.Certs.Open(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rd)
			_ = rd.Close()
			if err != nil || !bytes.Equal(got, doc) {
				t.Fatalf("read back %d bytes, %v", len(got), err)
			}
		})
	}
}

// Uploads that fail leave neither a row nor an object.
func TestFailedUploadsLeaveNothing(t *testing.T) {
	s := newStack(t)
	dir := storeDir(t, s)
	j := s.start(t)
	big, _ := marked(10<<20 + 1)
	expect(t, "over 10 MiB", s.upload(j.id, j.token, "big.pdf", big), http.StatusRequestEntityTooLarge, "file_too_large")
	expect(t, "not a PDF", s.upload(j.id, j.token, "x.pdf", []byte("plain text")), http.StatusUnsupportedMediaType, "unsupported_file_type")
	// A body cut short mid-file: the multipart framing never ends.
	doc, _ := marked(1 << 20)
	var body bytes.Buffer
	body.WriteString("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.pdf\"\r\nContent-Type: application/pdf\r\n\r\n")
	body.Write(doc)
	req, _ := http.NewRequest(http.MethodPost, s.http.URL+j.path("/certificate"), &body)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	req.Header.Set("Authorization", "Bearer "+j.token)
	expect(t, "cut short", s.do(req), http.StatusBadRequest, "invalid_upload")
	var n int64
	s.db.Model(&models.Certificate{}).Where("signup_id = ?", j.id).Count(&n)
	if n != 0 {
		t.Errorf("%d certificate rows after failed uploads", n)
	}
	for _, f := range certstoretest.Files(t, dir) {
		t.Errorf("left in the store: %s", f)
	}
}

func TestRetentionErasesAbandonedSignups(t *testing.T) {
	s := newStack(t, func(c *config.Config) {
		c.SignupIdleTimeout, c.PIIRetention, c.PIIPurgeEvery = 2*time.Second, 3*time.Second, time.Second
	})
	ctx := context.Background()
	// What every worker does at start; twice, as two workers would.
	for range 2 {
		if err := s.rt.EnsurePurgeSchedule(ctx, s.temporal); err != nil {
			t.Fatal(err)
		}
	}
	sched := s.temporal.ScheduleClient().GetHandle(ctx, app.PurgeScheduleID(s.cfg.TemporalTaskQueue))
	t.Cleanup(func() { _ = sched.Delete(context.Background()) })

	j := s.start(t)
	doc, marker := marked(200 << 10)
	expect(t, "upload", s.upload(j.id, j.token, "c.pdf", doc), http.StatusCreated, "")
	expect(t, "verify", s.call(http.MethodPost, j.path("/business-number/verify"), j.token, `{"business_number":"2208162517"}`), 200, "")
	expect(t, "user info", s.call(http.MethodPut, j.path("/user-info"), j.token, userInfo()), 200, "")
	expect(t, "organization", s.call(http.MethodPut, j.path("/organization"), j.token, map[string]any{
		"organization_name": "gone-co", "contact_name": "Lee Ji-eun", "contact_email": "lee@gone.example.com", "mobile_phone": "010-1234-5678",
	}), 200, "")
	var cert models.Certificate
	if err := s.db.Where("signup_id = ?", j.id).Take(&cert).Error; err != nil {
		t.Fatal(err)
	}

	// Idle for SIGNUP_IDLE_TIMEOUT: abandoned. Then PII_RETENTION later the
	// Schedule's purge erases it.
	var row models.Signup
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := s.db.Where("id = ?", j.id).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		if row.ErasedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not erased within a minute: status %s, updated %s", row.Status, row.UpdatedAt)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if row.Status != string(signup.StatusAbandoned) || row.ErasedAt.Sub(row.UpdatedAt) < 3*time.Second {
		t.Errorf("erased %s after it ended (%s), PII_RETENTION is 3s", row.ErasedAt.Sub(row.UpdatedAt), row.Status)
	}
	if row.OrganizationName != nil || row.BusinessNumber != nil || row.ContactEmail != nil || row.LastError != nil {
		t.Errorf("columns keep personal data: %+v", row)
	}
	pii := []string{"Lee Ji-eun", "lee@gone.example.com", "+821012345678", "gone-co", "220-81-62517", "Kim Min-su", "Pangyo-ro", "billing@example.com", "Acme Korea", "+8221234567"}
	var audits []models.AuditEvent
	s.db.Where("signup_id = ?", j.id).Find(&audits)
	trail, _ := json.Marshal(audits)
	for _, p := range pii {
		if strings.Contains(row.View, p) || bytes.Contains(trail, []byte(p)) {
			t.Errorf("%q kept after erasure", p)
		}
	}
	var v signup.View
	if err := json.Unmarshal([]byte(row.View), &v); err != nil || v.SignupID != j.id || v.Status != signup.StatusAbandoned || v.CreatedAt.IsZero() {
		t.Errorf("erased view %s (%v)", row.View, err)
	}
	// The certificate's row and sealed object are gone.
	var n int64
	s.db.Model(&models.Certificate{}).Where("signup_id = ?", j.id).Count(&n)
	if n != 0 {
		t.Errorf("%d certificate rows kept", n)
	}
	if ok, err := s.rt.Certs.Bucket().Exists(ctx, *cert.ObjectKey); err != nil || ok {
		t.Errorf("certificate object still there (%v)", err)
	}
	if hits := databaseHolds(t, s, marker); len(hits) > 0 {
		t.Errorf("database holds the certificate: %v", hits)
	}
	// Temporal forgot the workflow (history and search attributes).
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, err := s.temporal.DescribeWorkflowExecution(ctx, signup.WorkflowID(j.id), "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			break
		}
		if time.Now().After(deadline) {
			d, _ := s.temporal.DescribeWorkflowExecution(ctx, signup.WorkflowID(j.id), "")
			t.Fatalf("the erased sign-up's workflow is still in Temporal: %v %v", err, d.GetWorkflowExecutionInfo())
		}
	}
	// Operators see the Schedule and its runs; the metric counted it.
	desc, err := sched.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	act, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || act.Workflow != workflows.PurgeWorkflowName || len(desc.Info.RecentActions) == 0 {
		t.Errorf("schedule: %+v, recent %d", desc.Schedule.Action, len(desc.Info.RecentActions))
	}
	if m, _ := metricsText(t, s); !strings.Contains(m, `onboarding_signups_erased_total{trigger="retention"} 1`) {
		t.Errorf("metric: %s", grepLines(m, "onboarding_signups_erased_total"))
	}
}

func TestEraseOnRequest(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	backends := map[string]ops.Backend{
		"admin API": &ops.API{BaseURL: s.http.URL, Token: s.admin},
		"temporal":  &ops.Temporal{Client: s.temporal, TaskQueue: s.cfg.TemporalTaskQueue},
	}
	for _, name := range []string{"admin API", "temporal"} {
		t.Run(name, func(t *testing.T) {
			b := backends[name]
			j := s.start(t)
			expect(t, "upload", s.upload(j.id, j.token, "c.pdf", pdf), 201, "")
			if _, err := b.Do(ctx, j.id, ops.Erase, signup.OperatorInput{Operator: "kim.ops"}); opsCode(err) != signup.CodeNotEnded {
				t.Fatalf("erase before the end: %v", err)
			}
			expect(t, "cancel", s.call(http.MethodPost, "/api/v1/admin/signups/"+j.id+"/cancel", s.admin, `{"operator":"kim.ops"}`), 200, "")
			for i := range 2 {
				v, err := b.Do(ctx, j.id, ops.Erase, signup.OperatorInput{Operator: "kim.ops", Reason: "customer request #42"})
				if err != nil || v.SignupID != j.id || v.Status != signup.StatusCancelled || v.Certificate != nil {
					t.Fatalf("erase #%d: %+v, %v", i, v, err)
				}
			}
			var row models.Signup
			s.db.Where("id = ?", j.id).Take(&row)
			if row.ErasedAt == nil {
				t.Fatal("not erased")
			}
			var ev []models.AuditEvent
			s.db.Where("signup_id = ? AND action = 'personal_data_erased'", j.id).Find(&ev)
			if len(ev) != 1 || ev[0].Actor != "operator" || ev[0].Detail == nil || *ev[0].Detail != "kim.ops: customer request #42" {
				t.Errorf("audit: %+v", ev)
			}
			var n int64
			s.db.Model(&models.Certificate{}).Where("signup_id = ?", j.id).Count(&n)
			if n != 0 {
				t.Errorf("%d certificates kept", n)
			}
		})
	}
	r := s.call(http.MethodPost, "/api/v1/admin/signups/00000000-0000-0000-0000-000000000000/erase", s.admin, nil)
	expect(t, "unknown", r, http.StatusNotFound, "signup_not_found")
	expect(t, "no token", s.call(http.MethodPost, "/api/v1/admin/signups/x/erase", "", nil), http.StatusUnauthorized, "unauthorized")
	if m, _ := metricsText(t, s); !strings.Contains(m, `onboarding_signups_erased_total{trigger="request"} 2`) {
		t.Errorf("metric: %s", grepLines(m, "onboarding_signups_erased_total"))
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Workers starting at once all ensure the Schedule: one creates it, the
// others find it as wanted; a worker with new settings updates it, and one
// with the old settings again changes nothing more.
func TestPurgeScheduleEnsuredConcurrently(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	id := app.PurgeScheduleID(s.cfg.TemporalTaskQueue)
	t.Cleanup(func() {
		_ = s.temporal.ScheduleClient().GetHandle(context.Background(), id).Delete(context.Background())
	})
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- s.rt.EnsurePurgeSchedule(ctx, s.temporal) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	every := func() time.Duration {
		d, err := s.temporal.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d.Schedule.Spec.Intervals[0].Every
	}
	if got := every(); got != s.cfg.PIIPurgeEvery {
		t.Fatalf("every %s, want %s", got, s.cfg.PIIPurgeEvery)
	}
	s.rt.Cfg.PIIPurgeEvery = 2 * time.Hour
	if err := s.rt.EnsurePurgeSchedule(ctx, s.temporal); err != nil {
		t.Fatal(err)
	}
	if got := every(); got != 2*time.Hour {
		t.Fatalf("after the update every %s", got)
	}
	s.rt.Cfg.PIIRetention = time.Minute
	if err := s.rt.EnsurePurgeSchedule(ctx, s.temporal); err != nil {
		t.Fatal(err)
	}
	d, err := s.temporal.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var in workflows.PurgeInput
	act := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if err := codecDataConverter(s).FromPayload(act.Args[0].(*commonpb.Payload), &in); err != nil || in.Retention != time.Minute {
		t.Fatalf("the Schedule's input %+v, %v", in, err)
	}
}

func codecDataConverter(s *stack) interface {
	FromPayload(*commonpb.Payload, any) error
} {
	return codec.DataConverter(s.rt.Keyring)
}
