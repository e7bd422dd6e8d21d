package api

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/unicode/norm"

	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/workflows"
)

// MaxCertificate is the largest certificate accepted.
const MaxCertificate = 10 << 20

// sniff names the type of a certificate by its first bytes, whatever its
// name or declared type say.
func sniff(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("%PDF-")):
		return "application/pdf"
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(head, []byte{0xff, 0xd8, 0xff}):
		return "image/jpeg"
	}
	return ""
}

func cleanFilename(name string) string {
	// Valid UTF-8 in NFC: the name goes into the sign-up's history.
	name = norm.NFC.String(strings.ToValidUTF8(name, ""))
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '"' {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	if name == "" || name == "." || name == "/" {
		name = "certificate"
	}
	return name
}

// The answers of readCertificate.
var (
	errFileTooLarge = problem(http.StatusRequestEntityTooLarge, "file_too_large", "the certificate is over 10 MiB")
	errFileMissing  = problem(http.StatusUnprocessableEntity, "file_missing", "send the certificate as the multipart field \"file\"")
	errUploadCut    = problem(http.StatusBadRequest, "invalid_upload", "the upload was cut short")
	errFileType     = problem(http.StatusUnsupportedMediaType, "unsupported_file_type", "the certificate must be a PDF, PNG or JPEG file")
)

// maxUploadBody bounds the whole multipart body: the certificate and the
// multipart framing around it.
const maxUploadBody = MaxCertificate + 1<<20

// sniffLen is how much of the file is looked at to name its type.
const sniffLen = 512

// certificateUpload is the file part of an upload body, its type named by
// its first bytes. File streams the file, those bytes included; reading
// more of the body than maxUploadBody fails with errFileTooLarge (and sets
// body.over).
type certificateUpload struct {
	Filename    string
	ContentType string
	File        io.Reader
	body        *capReader
}

// openCertificate finds the multipart field "file" of an upload body (of
// the given Content-Type) and names its type by content, reading no more
// than the file's first bytes. Its errors are the contract's answers
// (errFileTooLarge and the others above).
func openCertificate(body io.Reader, contentType string) (*certificateUpload, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, errFileMissing
	}
	capped := &capReader{r: body, left: maxUploadBody}
	part, err := filePart(multipart.NewReader(capped, params["boundary"]))
	switch {
	case capped.over:
		return nil, errFileTooLarge
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errUploadCut
	case err != nil:
		return nil, errFileMissing
	}
	file := bufio.NewReaderSize(part, sniffLen)
	head, err := file.Peek(sniffLen)
	switch {
	case capped.over:
		return nil, errFileTooLarge
	case err != nil && !errors.Is(err, io.EOF):
		return nil, errUploadCut
	case len(head) == 0:
		return nil, errFileMissing
	}
	sniffed := sniff(head)
	if sniffed == "" {
		return nil, errFileType
	}
	return &certificateUpload{Filename: cleanFilename(part.FileName()), ContentType: sniffed, File: file, body: capped}, nil
}

// capReader reads at most left bytes, then fails (and says so in over).
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// Exactly at the bound: over only if there is more.
		var one [1]byte
		if n, err := c.r.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		c.over = true
		return 0, errFileTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

type certificateBody struct {
	Certificate signup.Certificate `json:"certificate"`
}

// uploadCertificate streams the multipart field "file" (at most 10 MiB, read
// no further): its type is checked on its first bytes, then it is sealed
// and written to the certificate store as it arrives (its SHA-256 computed
// on the way), and attached to the sign-up, which deletes the previous one.
// An upload that fails anywhere — a client that goes away, over 10 MiB, the
// store, the database, a refused step — leaves neither row nor object.
func (s *Server) uploadCertificate(c *gin.Context) {
	id := c.Param("id")
	if row, ok := readRow(c); ok && !signup.Status(row.Status).Editable() {
		// Known to be past the wizard: refused before anything is stored.
		// (Authenticated by a known token, the Update refuses it instead,
		// and the stored upload is discarded.)
		s.fail(c, problem(http.StatusConflict, signup.CodeStepOutOfOrder, "the certificate cannot change while the sign-up is "+row.Status))
		return
	}
	if c.Request.ContentLength > maxUploadBody {
		s.refuseBody(c, errFileTooLarge)
		return
	}
	up, err := openCertificate(c.Request.Body, c.GetHeader("Content-Type"))
	if err != nil {
		if errors.Is(err, errFileTooLarge) {
			s.refuseBody(c, errFileTooLarge)
		} else {
			s.fail(c, err)
		}
		return
	}
	src := &sourceReader{r: up.File}
	cert, err := s.certs.Upload(c.Request.Context(), id, up.Filename, up.ContentType, src, MaxCertificate)
	if err != nil {
		switch {
		case errors.Is(err, certstore.ErrTooLarge) || up.body.over:
			s.refuseBody(c, errFileTooLarge)
		case src.err != nil && !errors.Is(src.err, io.EOF):
			// The client's side: cut short, gone, or a broken multipart body.
			s.fail(c, errUploadCut)
		default:
			s.log.ErrorContext(c.Request.Context(), "certificate upload failed", "error", err)
			s.fail(c, problem(http.StatusServiceUnavailable, "temporarily_unavailable", "the certificate could not be stored; try again"))
		}
		return
	}
	var v signup.View
	if err := s.update(c, signup.WorkflowID(id), workflows.UpdateAttachCertificate, signup.CertificateInput{CertificateID: cert.ID}, &v, signup.CodeStepOutOfOrder); err != nil {
		// Refused: do not keep it. (After a timeout the Update may still
		// land; then it stays, and the next upload or the sign-up's release
		// deletes it; unless the sign-up is past the wizard, where it
		// cannot land and nothing else would delete it.)
		var p *Problem
		if errors.As(err, &p) && (p.Status < 500 || s.pastWizard(c)) {
			s.discardUpload(c, cert.ID)
		}
		s.fail(c, err)
		return
	}
	if v.Certificate == nil || v.Certificate.ID != cert.ID {
		// An earlier answer, replayed for the same Idempotency-Key: this
		// upload was not attached and nothing else would delete it.
		s.discardUpload(c, cert.ID)
	}
	if v.Certificate == nil {
		s.fail(c, problem(http.StatusConflict, signup.CodeStepOutOfOrder, "the certificate was not attached; upload it again"))
		return
	}
	c.JSON(http.StatusCreated, certificateBody{Certificate: *v.Certificate})
}

// discardUpload deletes an upload that was not attached, even when the
// client has gone.
func (s *Server) discardUpload(c *gin.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 30*time.Second)
	defer cancel()
	if err := s.certs.Discard(ctx, id); err != nil {
		s.log.WarnContext(ctx, "unattached certificate not deleted yet; the sweep will", "error", err)
	}
}

// pastWizard reports, after an upload's Update failed without an answer,
// whether the sign-up is known to be past the wizard (from its row,
// stepRow).
func (s *Server) pastWizard(c *gin.Context) bool {
	row, err := s.stepRow(c)
	if err != nil {
		return errors.Is(err, signup.ErrNotFound)
	}
	return !signup.Status(row.Status).Editable()
}

var errNoFilePart = errors.New("no file part")

// filePart finds the multipart field "file", skipping others.
func filePart(mr *multipart.Reader) (*multipart.Part, error) {
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errNoFilePart
		}
		if err != nil {
			return nil, err
		}
		if part.FormName() == "file" {
			return part, nil
		}
		if _, err := io.Copy(io.Discard, io.LimitReader(part, MaxCertificate)); err != nil {
			return nil, err
		}
	}
}

// sourceReader remembers how reading from the client failed (cut short,
// over the bound), to tell it from a failure of the store.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && s.err == nil {
		s.err = err
	}
	return n, err
}
