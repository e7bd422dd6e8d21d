// Package certstoretest gives tests a certificate store to run against: a
// directory, or a real S3 server (versitygw, an S3 gateway written in Go)
// started on a temporary directory and a free port.
package certstoretest

import (
	"bytes"
	"context"
	"fmt"
	"go/build"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kcloud/onboarding/internal/freeport"
)

// FileURL returns a CERTIFICATE_STORE of a new directory, and the directory.
func FileURL(t testing.TB) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certificates")
	return "file://" + filepath.ToSlash(dir), dir
}

// Credentials of the test S3 server.
const (
	AccessKey = "onboarding-test"
	SecretKey = "onboarding-test-secret"
	Region    = "us-east-1"
	Bucket    = "certificates"
)

// S3 is a running versitygw.
type S3 struct {
	URL      string // CERTIFICATE_STORE for it
	Endpoint string // http://127.0.0.1:port
	Dir      string // where it keeps the objects (its posix backend)
	Client   *s3.Client
}

var reportOnce sync.Once

// Binary finds versitygw: on PATH, in GOBIN, or in GOPATH/bin.
func Binary() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var dirs []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// StartS3 starts versitygw on a temporary directory and a free port, with a
// bucket, and sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION
// for the test. Without the binary the test is skipped — unless
// CI_REQUIRE_S3=1, where it fails (CI installs it:
// go install github.com/versity/versitygw/cmd/versitygw@v1.8.0).
func StartS3(t testing.TB) *S3 {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "versitygw not found (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0): S3 tests skipped"
		if os.Getenv("CI_REQUIRE_S3") == "1" {
			t.Fatal(msg + ", but CI_REQUIRE_S3=1")
		}
		reportOnce.Do(func() { fmt.Fprintln(os.Stderr, "certstoretest: "+msg) })
		t.Skip(msg)
	}
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		t.Fatal(err)
	}
	port, err := freeport.On("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--access", AccessKey, "--secret", SecretKey, "--region", Region,
		"--port", addr, "posix", data)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("versitygw: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("versitygw log:\n%s", logs.String())
		}
	})
	endpoint := "http://" + addr
	if err := waitHTTP(endpoint, done, 30*time.Second); err != nil {
		t.Fatalf("versitygw did not start: %v\n%s", err, logs.String())
	}
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_REGION", Region)
	client := s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		t.Fatalf("versitygw: create bucket: %v\n%s", err, logs.String())
	}
	q := "endpoint=" + endpoint + "&region=" + Region + "&use_path_style=true"
	return &S3{URL: "s3://" + Bucket + "?" + q, Endpoint: endpoint, Dir: data, Client: client}
}

// waitHTTP waits until the server answers anything over HTTP.
func waitHTTP(url string, exited <-chan struct{}, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("it exited")
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FilesContaining walks dir and returns the files whose bytes contain
// needle: where a plaintext certificate would show.
func FilesContaining(t testing.TB, dir string, needle []byte) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, strings.TrimPrefix(path, dir))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return hits
}

// Files lists the regular files under dir (relative paths).
func Files(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out = append(out, rel)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}
