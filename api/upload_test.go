package api

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// multipartBody is a multipart body with the given parts (name, filename,
// content) and its boundary.
func multipartBody(parts ...[3]string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		if p[1] == "" {
			w, _ = mw.CreateFormField(p[0])
		} else {
			w, _ = mw.CreateFormFile(p[0], p[1])
		}
		_, _ = io.WriteString(w, p[2])
	}
	_ = mw.Close()
	return buf.Bytes(), mw.Boundary()
}

func TestReadCertificate(t *testing.T) {
	pdf := "%PDF-1.4\n% test\n"
	tests := []struct {
		name        string
		parts       [][3]string
		contentType string // "" = multipart with the body's boundary
		want        error
		filename    string
	}{
		{"a PDF", [][3]string{{"file", "cert.pdf", pdf}}, "", nil, "cert.pdf"},
		{"after another field", [][3]string{{"note", "", "hello"}, {"file", "scan.png", "\x89PNG\r\n\x1a\n..."}}, "", nil, "scan.png"},
		{"a path and quotes in the name", [][3]string{{"file", `C:\Users\kim\"cert".pdf`, pdf}}, "", nil, "cert.pdf"},
		{"a decomposed Korean name is composed", [][3]string{{"file", "\u1109\u1161\u110b\u1165\u11b8.pdf", pdf}}, "", nil, "사업.pdf"},
		{"no file field", [][3]string{{"note", "", "hello"}}, "", errFileMissing, ""},
		{"empty file", [][3]string{{"file", "cert.pdf", ""}}, "", errFileMissing, ""},
		{"not multipart", [][3]string{{"file", "cert.pdf", pdf}}, "application/json", errFileMissing, ""},
		{"a text file", [][3]string{{"file", "cert.pdf", "hello"}}, "", errFileType, ""},
		{"over 10 MiB", [][3]string{{"file", "big.pdf", pdf + strings.Repeat("x", MaxCertificate)}}, "", errFileTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, boundary := multipartBody(tt.parts...)
			ct := tt.contentType
			if ct == "" {
				ct = "multipart/form-data; boundary=" + boundary
			}
			data, name, _, err := readCertificate(bytes.NewReader(body), ct)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if err == nil && (name != tt.filename || len(data) == 0) {
				t.Fatalf("filename %q (%d bytes), want %q", name, len(data), tt.filename)
			}
		})
	}
}

// readCertificate reads the whole certificate of an upload body, as the
// upload handler streams it to the store: at most MaxCertificate bytes.
func readCertificate(body io.Reader, contentType string) (data []byte, filename, sniffed string, err error) {
	up, err := openCertificate(body, contentType)
	if err != nil {
		return nil, "", "", err
	}
	data, err = io.ReadAll(io.LimitReader(up.File, MaxCertificate+1))
	switch {
	case up.body.over || len(data) > MaxCertificate:
		return nil, "", "", errFileTooLarge
	case err != nil:
		return nil, "", "", errUploadCut
	}
	return data, up.Filename, up.ContentType, nil
}

// endless is a body that never ends, counting what was read of it.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// An endless part is refused after the bound, and no more is read.
func TestReadCertificateReadsNoFurther(t *testing.T) {
	head, boundary := multipartBody([3]string{"file", "big.pdf", "%PDF-"})
	head = head[:bytes.LastIndex(head, []byte("\r\n--"))] // the part never closes
	body := &endless{}
	_, _, _, err := readCertificate(io.MultiReader(bytes.NewReader(head), body), "multipart/form-data; boundary="+boundary)
	if !errors.Is(err, errFileTooLarge) {
		t.Fatalf("error %v, want file_too_large", err)
	}
	if read := int64(len(head)) + body.n; read > maxUploadBody+64<<10 {
		t.Fatalf("read %d bytes of an endless body (bound %d)", read, maxUploadBody)
	}
}

// FuzzReadCertificate feeds arbitrary bodies and boundaries to the upload's
// multipart parsing: it never panics, refuses only with the contract's
// answers, and what it accepts is a bounded PDF, PNG or JPEG with a clean
// name.
func FuzzReadCertificate(f *testing.F) {
	body, boundary := multipartBody([3]string{"file", "cert.pdf", "%PDF-1.4\n"})
	f.Add(body, boundary)
	body, boundary = multipartBody([3]string{"note", "", "x"}, [3]string{"file", "a/b\\c.png", "\x89PNG\r\n\x1a\n"})
	f.Add(body, boundary)
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n\xff\xd8\xff\r\n--b--\r\n"), "b")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		data, name, sniffed, err := readCertificate(bytes.NewReader(body), "multipart/form-data; boundary="+boundary)
		if err != nil {
			for _, known := range []error{errFileTooLarge, errFileMissing, errUploadCut, errFileType} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		switch {
		case len(data) == 0 || len(data) > MaxCertificate:
			t.Fatalf("accepted %d bytes", len(data))
		case sniffed == "" || sniffed != sniff(data):
			t.Fatalf("type %q for %q", sniffed, data[:min(len(data), 8)])
		case name == "" || !utf8.ValidString(name) || !norm.NFC.IsNormalString(name) || utf8.RuneCountInString(name) > 200:
			t.Fatalf("filename %q", name)
		case strings.ContainsAny(name, "/\\\"") || strings.ContainsFunc(name, unicode.IsControl):
			t.Fatalf("filename %q", name)
		}
	})
}

// An upload in a slot must keep sending: a client that trickles its body is
// cut after the grace period instead of holding the slot for the server's
// read timeout, while a steady one is read to the end.
func TestPacedUpload(t *testing.T) {
	slots := newUploadSlots()
	slots.grace, slots.minRate = 300*time.Millisecond, 64<<10
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, slots.paced(w, r.Body))
		got <- result{n, err}
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		chunks  int
		every   time.Duration
		wantCut bool
	}{
		{"steady", 8, 10 * time.Millisecond, false},
		{"trickle", 40, 100 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() {
				chunk := bytes.Repeat([]byte("x"), 8<<10)
				if tt.wantCut {
					chunk = chunk[:1]
				}
				for i := 0; i < tt.chunks; i++ {
					if _, err := pw.Write(chunk); err != nil {
						return
					}
					time.Sleep(tt.every)
				}
				_ = pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				res.Body.Close()
			}
			r := <-got
			_ = pr.CloseWithError(io.ErrClosedPipe)
			if cut := r.err != nil; cut != tt.wantCut {
				t.Fatalf("read %d bytes, error %v; want cut %v", r.n, r.err, tt.wantCut)
			}
		})
	}
}

// A rate-limit store that is down is logged once per storeWarnEvery, with
// the calls let through in between, not once per call.
func TestStoreDownLoggedOncePerInterval(t *testing.T) {
	l := newLimits()
	t0 := time.Now()
	steps := []struct {
		at     time.Duration
		say    bool
		unsaid int64
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{2 * time.Second, false, 0},
		{storeWarnEvery + time.Second, true, 2},
		{storeWarnEvery + 2*time.Second, false, 0},
	}
	for i, st := range steps {
		say, unsaid := l.storeDown(t0.Add(st.at))
		if say != st.say || unsaid != st.unsaid {
			t.Fatalf("call %d at +%s: log %v with %d unsaid, want %v with %d", i, st.at, say, unsaid, st.say, st.unsaid)
		}
	}
}
