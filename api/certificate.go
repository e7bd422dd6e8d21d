package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/kcloud/onboarding/internal/signup"
	"github.com/kcloud/onboarding/models"
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

// readCertificate reads the multipart field "file" of an upload body (of the
// given Content-Type): at most MaxCertificate bytes, and nothing of the body
// past maxUploadBody. It returns the bytes, the cleaned filename and the type
// named by content; its errors are the contract's answers (errFileTooLarge
// and the others above).
func readCertificate(body io.Reader, contentType string) (data []byte, filename, sniffed string, err error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, "", "", errFileMissing
	}
	capped := &capReader{r: body, left: maxUploadBody}
	mr := multipart.NewReader(capped, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if capped.over {
				return nil, "", "", errFileTooLarge
			}
			return nil, "", "", errFileMissing
		}
		if part.FormName() != "file" {
			_, _ = io.Copy(io.Discard, io.LimitReader(part, MaxCertificate))
			continue
		}
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(part, MaxCertificate+1))
		switch {
		case capped.over || n > MaxCertificate:
			return nil, "", "", errFileTooLarge
		case err != nil:
			return nil, "", "", errUploadCut
		}
		data, filename = buf.Bytes(), cleanFilename(part.FileName())
		break
	}
	if len(data) == 0 {
		return nil, "", "", errFileMissing
	}
	if sniffed = sniff(data); sniffed == "" {
		return nil, "", "", errFileType
	}
	return data, filename, sniffed, nil
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
// no further), checks its type by content, stores it, and attaches it to the
// sign-up; the previous certificate is deleted.
func (s *Server) uploadCertificate(c *gin.Context) {
	row := signupRow(c)
	if !signup.Status(row.Status).Editable() {
		s.fail(c, problem(http.StatusConflict, signup.CodeStepOutOfOrder, "the certificate cannot change while the sign-up is "+row.Status))
		return
	}
	if c.Request.ContentLength > maxUploadBody {
		s.refuseBody(c, errFileTooLarge)
		return
	}
	data, filename, contentType, err := readCertificate(c.Request.Body, c.GetHeader("Content-Type"))
	if err != nil {
		if errors.Is(err, errFileTooLarge) {
			s.refuseBody(c, errFileTooLarge)
		} else {
			s.fail(c, err)
		}
		return
	}
	sum := sha256.Sum256(data)
	cert := models.Certificate{ID: uuid.NewString(), SignupID: row.ID, Filename: filename, ContentType: contentType,
		Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Data: data, CreatedAt: time.Now().UTC()}
	if err := s.db.WithContext(c.Request.Context()).Create(&cert).Error; err != nil {
		s.fail(c, err)
		return
	}
	var v signup.View
	if err := s.update(c, row.WorkflowID, workflows.UpdateAttachCertificate, signup.CertificateInput{CertificateID: cert.ID}, &v, signup.CodeStepOutOfOrder); err != nil {
		// Refused: do not keep the bytes. (After a timeout the Update may
		// still land; then the row stays, and the next upload or the
		// sign-up's release deletes it.)
		var p *Problem
		if errors.As(err, &p) && p.Status < 500 {
			_ = s.db.Where("id = ?", cert.ID).Delete(&models.Certificate{}).Error
		}
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, certificateBody{Certificate: *v.Certificate})
}
