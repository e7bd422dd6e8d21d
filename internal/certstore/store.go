// Package certstore keeps business registration certificates: sealed
// (AES-256-GCM, codec's OBS1 stream format, under the payload keyring) in an
// object store — a directory, S3 or an S3-compatible server, or Google Cloud
// Storage, through gocloud.dev/blob — with their metadata in the
// certificates table. No backend ever holds a readable certificate, and no
// certificate is ever held whole in memory: uploads are sealed and written
// as they stream in.
//
// A certificate row moves through three states, so that a crash at any
// point leaves something the sweep (Sweep, run by the purge workflow)
// recognizes and removes, without listing the bucket:
//
//	uploading  the row is written first; then the object. A row still
//	           uploading after the sweep's grace belongs to a process that
//	           died mid-upload: its object (if any) and the row are removed.
//	stored     the object is complete and its size and SHA-256 recorded.
//	deleting   the row is retired (in the same transaction as whatever made
//	           it unneeded); its object is deleted, then the row. A row left
//	           deleting by a crash is finished by the sweep.
//
// Besides rows, a killed writer can leave backend debris: the file
// backend's temporary files and S3's incomplete multipart uploads. The
// sweep removes those once older than the grace too.
package certstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs:// URLs
	_ "gocloud.dev/blob/s3blob"  // s3:// URLs
	"gocloud.dev/gcerrors"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/store"
)

// Object metadata.
const (
	MetadataKeyID  = "key-id" // the keyring key the object is sealed under
	MetadataFormat = "format" // the sealed stream's format, "OBS1"
	formatOBS1     = "OBS1"
	// Prefix is where certificate objects live in the bucket.
	Prefix = "certificates/"
)

// ErrTooLarge is returned by an upload over its size bound; nothing is kept.
var ErrTooLarge = errors.New("certstore: certificate over the size bound")

// Store is the certificate store: sealed objects in a bucket, metadata in
// the database.
type Store struct {
	bucket *blob.Bucket
	keys   *codec.Keyring
	db     *store.DB
	log    *slog.Logger
	scheme string // file, s3 or gs
	name   string // the bucket's name (s3, gs)
	dir    string // the file backend's directory
	now    func() time.Time
}

// Open opens the store at rawURL (CERTIFICATE_STORE): file:///dir (created
// if missing), s3://bucket?region=…[&endpoint=…&use_path_style=true] with
// the AWS_* credentials, or gs://bucket with Google's application default
// credentials. It checks that the bucket can be reached.
func Open(ctx context.Context, rawURL string, keys *codec.Keyring, db *store.DB, log *slog.Logger) (*Store, error) {
	if keys == nil {
		return nil, errors.New("certstore: a keyring is required")
	}
	if log == nil {
		log = slog.Default()
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("CERTIFICATE_STORE: %w", err)
	}
	s := &Store{keys: keys, db: db, log: log, scheme: u.Scheme, name: u.Host, now: time.Now}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("CERTIFICATE_STORE: a file URL is file:///absolute/dir, not %q", rawURL)
		}
		if u.Path == "" || !filepath.IsAbs(u.Path) {
			return nil, fmt.Errorf("CERTIFICATE_STORE: a file URL needs an absolute directory (file:///…), not %q", rawURL)
		}
		s.dir = filepath.Clean(u.Path)
		// Temporary files beside the objects (not in os.TempDir): the rename
		// stays on one file system, and the sweep finds what a killed writer
		// left.
		s.bucket, err = fileblob.OpenBucket(s.dir, &fileblob.Options{CreateDir: true, NoTempDir: true, DirFileMode: 0o750})
	case "s3", "gs":
		if u.Host == "" {
			return nil, fmt.Errorf("CERTIFICATE_STORE: %s:// needs a bucket name", u.Scheme)
		}
		s.bucket, err = blob.OpenBucket(ctx, rawURL)
	default:
		return nil, fmt.Errorf("CERTIFICATE_STORE must be file:///dir, s3://bucket?… or gs://bucket, not %q", redact(rawURL))
	}
	if err != nil {
		return nil, fmt.Errorf("CERTIFICATE_STORE %s: %w", redact(rawURL), err)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ok, err := s.bucket.IsAccessible(cctx)
	if err == nil && !ok {
		err = errors.New("the bucket does not exist")
	}
	if err != nil {
		_ = s.bucket.Close()
		return nil, fmt.Errorf("CERTIFICATE_STORE %s: %w", redact(rawURL), err)
	}
	return s, nil
}

// redact drops a URL's query (it may carry secrets) for messages.
func redact(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i] + "?…"
	}
	return raw
}

// Close closes the bucket.
func (s *Store) Close() error { return s.bucket.Close() }

// Bucket is the underlying bucket (tests read the raw objects through it).
func (s *Store) Bucket() *blob.Bucket { return s.bucket }

var safeKeyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// objectKey names a certificate's object sealed under keyID; a re-seal under
// another key gets another name, so the old object is never overwritten.
func objectKey(certID, keyID string) string {
	if !safeKeyID.MatchString(keyID) {
		sum := sha256.Sum256([]byte(keyID))
		keyID = "x" + hex.EncodeToString(sum[:8])
	}
	return Prefix + certID + "." + keyID
}

// additionalData binds a sealed object to its certificate: an object copied
// under another certificate's name does not open.
func additionalData(certID string) []byte { return []byte("onboarding/certificate/" + certID) }

// sealed is what put wrote.
type sealed struct {
	Size   int64
	SHA256 string
	KeyID  string
}

// objectWriter writes one object; nothing is committed before Close, and
// Abort drops what was written.
type objectWriter interface {
	io.Writer
	Close() error
	Abort() error
}

// blobWriter is a gocloud writer: cancelling its context before Close
// commits nothing (and removes the file backend's temporary file).
type blobWriter struct {
	w      *blob.Writer
	cancel context.CancelFunc
}

func (b blobWriter) Write(p []byte) (int, error) { return b.w.Write(p) }
func (b blobWriter) Close() error                { return b.w.Close() }
func (b blobWriter) Abort() error                { b.cancel(); _ = b.w.Close(); return nil }

func (s *Store) newWriter(ctx context.Context, key string) (objectWriter, error) {
	md := map[string]string{MetadataKeyID: s.keys.ActiveKeyID(), MetadataFormat: formatOBS1}
	if s.scheme == "s3" {
		var client *s3.Client
		if s.bucket.As(&client) {
			return newS3Writer(ctx, client, s.name, key, md), nil
		}
	}
	opts := &blob.WriterOptions{ContentType: "application/octet-stream", Metadata: md}
	if s.scheme == "gs" {
		opts.BufferSize = 1 << 20 // resumable upload in 1 MiB chunks
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := s.bucket.NewWriter(wctx, key, opts)
	if err != nil {
		cancel()
		return nil, err
	}
	return blobWriter{w: w, cancel: cancel}, nil
}

// put seals at most max bytes of r into key, hashing the plaintext on the
// way. On any error the object does not exist: the write is aborted, never
// committed.
func (s *Store) put(ctx context.Context, key, certID string, r io.Reader, max int64) (sealed, error) {
	w, err := s.newWriter(ctx, key)
	if err != nil {
		return sealed{}, fmt.Errorf("certstore: %w", err)
	}
	abort := func(err error) (sealed, error) {
		if aerr := w.Abort(); aerr != nil {
			s.log.Warn("certificate upload not aborted; the sweep will", "error", aerr)
		}
		return sealed{}, err
	}
	seal, err := s.keys.NewSealer(w, additionalData(certID))
	if err != nil {
		return abort(err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(seal, h), io.LimitReader(r, max+1))
	if err != nil {
		return abort(err)
	}
	if n > max {
		return abort(ErrTooLarge)
	}
	if err := seal.Close(); err != nil {
		return abort(fmt.Errorf("certstore: %w", err))
	}
	if err := w.Close(); err != nil {
		_ = w.Abort()
		return sealed{}, fmt.Errorf("certstore: write %s: %w", key, err)
	}
	return sealed{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), KeyID: seal.KeyID()}, nil
}

// openObject returns the plaintext of a sealed object. The reader fails
// (codec.ErrStreamCorrupt) rather than end early if the object was altered.
func (s *Store) openObject(ctx context.Context, key, certID string) (io.ReadCloser, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, fmt.Errorf("certstore: read %s: %w", key, err)
	}
	o, err := s.keys.NewOpener(r, additionalData(certID))
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("certstore: open %s: %w", key, err)
	}
	return readCloser{Reader: o, Closer: r}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// deleteObject deletes an object; one already gone is not an error.
func (s *Store) deleteObject(ctx context.Context, key string) error {
	err := s.bucket.Delete(ctx, key)
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("certstore: delete %s: %w", key, err)
	}
	if s.scheme == "file" {
		// A writer killed between writing the attributes file and renaming
		// the object leaves the attributes alone; fileblob's Delete stops
		// at the missing object.
		if path, ok := s.filePath(key); ok {
			if rerr := os.Remove(path + ".attrs"); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				return fmt.Errorf("certstore: delete %s: %w", key, rerr)
			}
		}
	}
	return nil
}

func (s *Store) filePath(key string) (string, bool) {
	p := filepath.Join(s.dir, filepath.FromSlash(key))
	if !strings.HasPrefix(p, s.dir+string(filepath.Separator)) {
		return "", false
	}
	return p, true
}

// sweepBackend removes what killed writers left in the backend before
// cutoff: the file backend's temporary files and lone attribute files, and
// S3's incomplete multipart uploads.
func (s *Store) sweepBackend(ctx context.Context, cutoff time.Time) (int, error) {
	switch s.scheme {
	case "file":
		return s.sweepFiles(cutoff)
	case "s3":
		return s.sweepMultipart(ctx, cutoff)
	}
	// GCS: an unfinished resumable upload is not an object, and expires
	// by itself after a week.
	return 0, nil
}

func (s *Store) sweepFiles(cutoff time.Time) (int, error) {
	root := filepath.Join(s.dir, filepath.FromSlash(strings.TrimSuffix(Prefix, "/")))
	n := 0
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		stray := strings.HasSuffix(name, ".tmp")
		if strings.HasSuffix(name, ".attrs") {
			_, serr := os.Stat(strings.TrimSuffix(path, ".attrs"))
			stray = errors.Is(serr, os.ErrNotExist)
		}
		if !stray {
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("certstore: sweep %s: %w", root, err)
	}
	return n, nil
}

func (s *Store) sweepMultipart(ctx context.Context, cutoff time.Time) (int, error) {
	var client *s3.Client
	if !s.bucket.As(&client) {
		return 0, nil
	}
	name := s.name
	n := 0
	var keyMarker, idMarker *string
	for {
		out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{
			Bucket: &name, Prefix: ptr(Prefix), KeyMarker: keyMarker, UploadIdMarker: idMarker,
		})
		if err != nil {
			return n, fmt.Errorf("certstore: list multipart uploads: %w", err)
		}
		for _, up := range out.Uploads {
			if up.Initiated == nil || !up.Initiated.Before(cutoff) {
				continue
			}
			if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: &name, Key: up.Key, UploadId: up.UploadId,
			}); err != nil {
				return n, fmt.Errorf("certstore: abort multipart upload: %w", err)
			}
			n++
		}
		if out.IsTruncated == nil || !*out.IsTruncated {
			return n, nil
		}
		keyMarker, idMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

func ptr[T any](v T) *T { return &v }
