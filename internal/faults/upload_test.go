package faults

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/certstore/certstoretest"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/internal/topology"
	"github.com/kcloud/onboarding/models"
)

// uploadStore is a certificate store the processes share, and how to see
// what a killed upload left in it.
type uploadStore struct {
	env    []string
	debris func(t *testing.T) []string // temporary files or unfinished multipart uploads
	items  func(t *testing.T) []string // objects
}

func fileUploadStore(dir string) uploadStore {
	root := filepath.Join(dir, "certificates") // DATA_DIR/certificates, the default
	list := func(t *testing.T, tmp bool) []string {
		var out []string
		for _, f := range certstoretest.Files(t, root) {
			if strings.HasSuffix(f, ".tmp") == tmp && !strings.HasSuffix(f, ".attrs") {
				out = append(out, f)
			}
		}
		return out
	}
	return uploadStore{
		debris: func(t *testing.T) []string { return list(t, true) },
		items:  func(t *testing.T) []string { return list(t, false) },
	}
}

func s3UploadStore(t *testing.T) uploadStore {
	srv := certstoretest.StartS3(t)
	bucket := aws.String(certstoretest.Bucket)
	return uploadStore{
		env: []string{"CERTIFICATE_STORE=" + srv.URL, "AWS_ACCESS_KEY_ID=" + certstoretest.AccessKey,
			"AWS_SECRET_ACCESS_KEY=" + certstoretest.SecretKey, "AWS_REGION=" + certstoretest.Region},
		debris: func(t *testing.T) []string {
			out, err := srv.Client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: bucket})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, u := range out.Uploads {
				keys = append(keys, "multipart upload of "+*u.Key)
			}
			return keys
		},
		items: func(t *testing.T) []string {
			out, err := srv.Client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: bucket})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range out.Contents {
				keys = append(keys, *o.Key)
			}
			return keys
		},
	}
}

// The API process is killed (SIGKILL) while a certificate streams in, 7 MiB
// into 9: past the first S3 multipart part, with a temporary file on the
// file backend. Restarted, nothing of it stays: the purge Schedule's sweep
// removes the unfinished upload's row and the backend's debris, and the
// next upload works.
func TestKilledMidUploadLeavesNothing(t *testing.T) {
	stores := map[string]func(dir string) uploadStore{"file": fileUploadStore}
	if certstoretest.Binary() != "" || os.Getenv("CI_REQUIRE_S3") == "1" {
		stores["s3"] = func(string) uploadStore { return s3UploadStore(t) }
	}
	for name, makeStore := range stores {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st := makeStore(dir)
			env := append([]string{"PII_PURGE_EVERY=1s", "CERTIFICATE_SWEEP_AFTER=3s"}, st.env...)
			r := startWith(t, topology.Options{Dir: dir, Workers: 1, Env: env})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()

			created := r.create(ctx)
			path := "/api/v1/signups/" + created.SignupID + "/certificate"

			// Stream the upload through a pipe, so that it is half-way when the
			// API dies.
			pr, pw := io.Pipe()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.topo.APIURL+path, pr)
			req.Header.Set("Content-Type", "multipart/form-data; boundary=cut")
			req.Header.Set("Authorization", "Bearer "+created.SignupToken)
			answered := make(chan error, 1)
			go func() {
				res, err := http.DefaultClient.Do(req)
				if err == nil {
					res.Body.Close()
					err = fmt.Errorf("answered %s", res.Status)
				}
				answered <- err
			}()
			doc := bytes.Repeat([]byte("%PDF-1.4 half a certificate "), (7<<20)/28)
			fmt.Fprint(pw, "--cut\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.pdf\"\r\nContent-Type: application/pdf\r\n\r\n")
			if _, err := pw.Write(doc); err != nil {
				t.Fatal(err)
			}
			// The upload is under way: its row and its debris are there.
			waitFor(t, ctx, "the upload under way", func() bool {
				return r.certificates(t, created.SignupID, certstore.StateUploading) == 1 && len(st.debris(t)) > 0
			})
			r.topo.API.Kill()
			_ = pw.CloseWithError(io.ErrUnexpectedEOF)
			if err := <-answered; err == nil || strings.Contains(err.Error(), "answered") {
				t.Fatalf("the upload was not cut by the kill: %v", err)
			}
			t.Logf("killed mid-upload; left: %d row, debris %v", r.certificates(t, created.SignupID, ""), st.debris(t))

			if err := r.topo.API.Start(); err != nil {
				t.Fatal(err)
			}
			if err := topology.WaitHTTP(ctx, r.topo.APIURL+"/readyz", time.Minute); err != nil {
				t.Fatal(err)
			}
			waitFor(t, ctx, "nothing left of the killed upload", func() bool {
				return r.certificates(t, created.SignupID, "") == 0 && len(st.debris(t)) == 0 && len(st.items(t)) == 0
			})

			// The store works after the restart.
			var buf bytes.Buffer
			buf.WriteString("--cut\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.pdf\"\r\nContent-Type: application/pdf\r\n\r\n")
			buf.WriteString("%PDF-1.4 whole\r\n--cut--\r\n")
			r.call(ctx, http.MethodPost, path, created.SignupToken, "multipart/form-data; boundary=cut", buf.Bytes(), 201, nil)
			if n := r.certificates(t, created.SignupID, certstore.StateStored); n != 1 {
				t.Errorf("%d stored certificates after the new upload", n)
			}
			if items := st.items(t); len(items) != 1 {
				t.Errorf("objects after the new upload: %v", items)
			}
		})
	}
}

// certificates counts a sign-up's certificate rows (in a state, or all).
func (r *run) certificates(t *testing.T, signupID, state string) int64 {
	t.Helper()
	q := r.db.Model(&models.Certificate{}).Where("signup_id = ?", signupID)
	if state != "" {
		q = q.Where("state = ?", state)
	}
	var n int64
	if err := q.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// `onboarding migrate certificates`, the command: certificates from before
// the store move into it sealed, twice is once, and after a key rotation
// they are re-sealed under the new key.
func TestMigrateCertificatesCommand(t *testing.T) {
	dir := t.TempDir()
	dbURL := storetest.URL(t)
	db, err := store.Open(context.Background(), dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	marker := []byte("%PDF-1.4 LEGACY-CERTIFICATE-IN-BYTEA ")
	for i := range 3 {
		data := bytes.Repeat(marker, 100*(i+1))
		sum := sha256.Sum256(data)
		if err := db.Create(&models.Certificate{ID: fmt.Sprintf("legacy-%d", i), SignupID: "s", Filename: "c.pdf",
			ContentType: "application/pdf", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Data: data,
			CreatedAt: time.Now().UTC()}).Error; err != nil {
			t.Fatal(err)
		}
	}
	k1 := codec.NewKeySpec("k1")
	migrate := func(keys string) string {
		t.Helper()
		cmd := exec.Command(bin, "migrate", "certificates")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "DATA_DIR="+dir, "PAYLOAD_ENCRYPTION_KEYS="+keys, "LOG_LEVEL=warn")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("migrate certificates: %v\n%s", err, out)
		}
		return string(out)
	}
	for run, want := range []string{"moved 3 certificate(s) from the database into the store; re-sealed 0", "moved 0 certificate(s) from the database into the store; re-sealed 0"} {
		out := migrate(k1)
		if !strings.Contains(out, want) || !strings.Contains(out, "in the database: 0") || !strings.Contains(out, "sealed under key k1: 3") {
			t.Fatalf("run %d:\n%s", run+1, out)
		}
	}
	var inDB int64
	db.Model(&models.Certificate{}).Where("data IS NOT NULL").Count(&inDB)
	if inDB != 0 {
		t.Errorf("%d certificates still in the database", inDB)
	}
	if hits := certstoretest.FilesContaining(t, dir, marker); len(hits) > 0 {
		t.Errorf("plaintext certificates on disk: %v", hits)
	}
	out := migrate(codec.NewKeySpec("k2") + "," + k1)
	if !strings.Contains(out, "re-sealed 3 under key k2") || !strings.Contains(out, "sealed under key k2: 3") || strings.Contains(out, "key k1:") {
		t.Fatalf("after rotation:\n%s", out)
	}
}
