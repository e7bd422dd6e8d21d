package certstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/uuid"

	"github.com/kcloud/onboarding/internal/certstore"
	"github.com/kcloud/onboarding/internal/certstore/certstoretest"
	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/internal/store"
	"github.com/kcloud/onboarding/internal/store/storetest"
	"github.com/kcloud/onboarding/models"
)

// backend is a store under test, with where its bytes land on disk.
type backend struct {
	name string
	url  string
	dir  string     // every byte the backend keeps is under it
	s3   *s3.Client // nil for the file backend
}

// backends returns the file backend, and S3 (versitygw) when available.
func backends(t *testing.T) []backend {
	url, dir := certstoretest.FileURL(t)
	out := []backend{{name: "file", url: url, dir: dir}}
	if certstoretest.Binary() != "" || os.Getenv("CI_REQUIRE_S3") == "1" {
		s := certstoretest.StartS3(t)
		out = append(out, backend{name: "s3", url: s.URL, dir: s.Dir, s3: s.Client})
	} else {
		t.Log("versitygw not found: S3 not tested here (CI_REQUIRE_S3=1 makes this fail)")
	}
	return out
}

var testKeys = codec.NewKeySpec("k1")

func open(t *testing.T, b backend, keys string, db *store.DB) *certstore.Store {
	t.Helper()
	kr, err := codec.ParseKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	s, err := certstore.Open(context.Background(), b.url, kr, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// document is a certificate-like file of n bytes that repeats a marker, so
// that any plaintext run of it is found.
func document(n int) ([]byte, []byte) {
	marker := []byte("%PDF-1.4 BUSINESS-REGISTRATION-220-81-62517 ")
	var b bytes.Buffer
	for b.Len() < n {
		b.Write(marker)
	}
	return b.Bytes()[:n], marker
}

func rows(t *testing.T, db *store.DB) []models.Certificate {
	t.Helper()
	var out []models.Certificate
	if err := db.Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUploadSealsAndReadsBack(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			db := storetest.Open(t)
			s := open(t, b, testKeys, db)
			ctx := context.Background()
			for _, n := range []int{40, 200 << 10, 10 << 20} {
				plain, marker := document(n)
				c, err := s.Upload(ctx, "signup-1", "cert.pdf", "application/pdf", bytes.NewReader(plain), 10<<20)
				if err != nil {
					t.Fatalf("%d bytes: %v", n, err)
				}
				sum := sha256.Sum256(plain)
				if c.Size != int64(n) || c.SHA256 != hex.EncodeToString(sum[:]) || c.State != certstore.StateStored || c.ObjectKey == nil {
					t.Fatalf("%d bytes: %+v", n, c)
				}
				var row models.Certificate
				if err := db.Where("id = ?", c.ID).Take(&row).Error; err != nil {
					t.Fatal(err)
				}
				if row.Data != nil || row.State != certstore.StateStored || *row.KeyID != "k1" || row.SHA256 != c.SHA256 {
					t.Fatalf("row: data %d bytes, state %s, key %v", len(row.Data), row.State, row.KeyID)
				}
				raw, err := s.Bucket().ReadAll(ctx, *row.ObjectKey)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(raw, []byte("OBS1")) || bytes.Contains(raw, marker[:16]) {
					t.Fatalf("%d bytes: the stored object is not sealed", n)
				}
				attrs, err := s.Bucket().Attributes(ctx, *row.ObjectKey)
				if err != nil || attrs.Metadata[certstore.MetadataKeyID] != "k1" {
					t.Fatalf("object metadata %v, %v", attrs, err)
				}
				r, err := s.Open(ctx, row)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				_ = r.Close()
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("%d bytes: read back %d bytes, %v", n, len(got), err)
				}
			}
			_, marker := document(1)
			if hits := certstoretest.FilesContaining(t, b.dir, marker[:16]); len(hits) > 0 {
				t.Errorf("plaintext certificate bytes on disk in %v", hits)
			}
		})
	}
}

// failingReader yields n bytes of a document, then fails like a client
// that went away.
type failingReader struct {
	r io.Reader
}

var errClientGone = errors.New("client went away")

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errClientGone
	}
	return n, err
}

func cutAfter(n int) io.Reader {
	plain, _ := document(n)
	return &failingReader{r: bytes.NewReader(plain)}
}

// cancelAfter cancels ctx once n bytes were read.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

func TestFailedUploadLeavesNothing(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			db := storetest.Open(t)
			s := open(t, b, testKeys, db)
			tests := []struct {
				name string
				src  func(cancel context.CancelFunc) io.Reader
				want error
			}{
				{"client gone early", func(context.CancelFunc) io.Reader { return cutAfter(100 << 10) }, errClientGone},
				// Past the first 5 MiB part: S3 has a multipart upload to abort.
				{"client gone late", func(context.CancelFunc) io.Reader { return cutAfter(7 << 20) }, errClientGone},
				{"over the bound", func(context.CancelFunc) io.Reader { d, _ := document(10<<20 + 1); return bytes.NewReader(d) }, certstore.ErrTooLarge},
				{"request cancelled", func(cancel context.CancelFunc) io.Reader {
					d, _ := document(8 << 20)
					return &cancelAfter{r: bytes.NewReader(d), n: 6 << 20, cancel: cancel}
				}, context.Canceled},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					_, err := s.Upload(ctx, "signup-1", "cert.pdf", "application/pdf", tt.src(cancel), 10<<20)
					if !errors.Is(err, tt.want) {
						t.Fatalf("err = %v, want %v", err, tt.want)
					}
					assertEmpty(t, b, s, db)
				})
			}
		})
	}
}

// assertEmpty checks that the store holds no certificate at all: no row, no
// object, no temporary file, no unfinished multipart upload.
func assertEmpty(t *testing.T, b backend, s *certstore.Store, db *store.DB) {
	t.Helper()
	if rs := rows(t, db); len(rs) > 0 {
		t.Errorf("%d certificate rows left: %+v", len(rs), rs[0])
	}
	if b.s3 == nil {
		if files := certstoretest.Files(t, b.dir); len(files) > 0 {
			t.Errorf("files left in the store: %v", files)
		}
		return
	}
	ctx := context.Background()
	objs, err := b.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(certstoretest.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs.Contents) > 0 {
		t.Errorf("%d objects left, first %s", len(objs.Contents), *objs.Contents[0].Key)
	}
	ups, err := b.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(certstoretest.Bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) > 0 {
		t.Errorf("%d multipart uploads left unfinished", len(ups.Uploads))
	}
}

func TestSweepRemovesWhatCrashesLeft(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			db := storetest.Open(t)
			s := open(t, b, testKeys, db)
			ctx := context.Background()
			old := time.Now().Add(-time.Hour).UTC()
			plain, _ := document(1000)

			// A process killed between writing the object and completing the
			// row: an uploading row with its object.
			dead, err := s.Upload(ctx, "signup-1", "a.pdf", "application/pdf", bytes.NewReader(plain), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			db.Model(&models.Certificate{}).Where("id = ?", dead.ID).Updates(map[string]any{"state": certstore.StateUploading, "created_at": old})
			// One killed before writing anything: a row only.
			key := certstore.Prefix + uuid.NewString() + ".k1"
			db.Create(&models.Certificate{ID: uuid.NewString(), SignupID: "signup-1", Filename: "b.pdf", ContentType: "application/pdf",
				ObjectKey: &key, State: certstore.StateUploading, CreatedAt: old})
			// One killed after retiring a certificate, before deleting it.
			retired, err := s.Upload(ctx, "signup-1", "c.pdf", "application/pdf", bytes.NewReader(plain), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			db.Model(&models.Certificate{}).Where("id = ?", retired.ID).Update("state", certstore.StateDeleting)
			// An upload going on right now: left alone.
			young := models.Certificate{ID: uuid.NewString(), SignupID: "signup-2", Filename: "d.pdf", ContentType: "application/pdf",
				ObjectKey: &key, State: certstore.StateUploading, CreatedAt: time.Now().UTC()}
			db.Create(&young)
			// And one that is fine.
			kept, err := s.Upload(ctx, "signup-3", "e.pdf", "application/pdf", bytes.NewReader(plain), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			debris := 0
			if b.s3 == nil {
				// What a killed fileblob writer leaves: its temporary file,
				// and an attributes file whose object was never renamed in.
				base := filepath.Join(b.dir, "certificates", uuid.NewString()+".k1")
				for _, p := range []string{base + ".17a2b3c4d5e6f.tmp", base + ".attrs"} {
					if err := os.WriteFile(p, []byte("half an object"), 0o644); err != nil {
						t.Fatal(err)
					}
					_ = os.Chtimes(p, old, old)
				}
				debris = 2
			} else {
				// What a killed S3 writer leaves: an unfinished multipart upload.
				up, err := b.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
					Bucket: aws.String(certstoretest.Bucket), Key: aws.String(certstore.Prefix + uuid.NewString() + ".k1")})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(certstoretest.Bucket), Key: up.Key,
					UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(plain)}); err != nil {
					t.Fatal(err)
				}
				debris = 1
			}

			// Debris is only as old as now on S3; sweep with a cutoff a moment ahead.
			res, err := s.Sweep(ctx, time.Now().Add(-30*time.Minute), 1)
			if err != nil {
				t.Fatal(err)
			}
			if res.Unfinished != 2 || res.Retired != 1 {
				t.Errorf("swept %+v, want 2 unfinished uploads and 1 retired", res)
			}
			if b.s3 != nil {
				res2, err := s.Sweep(ctx, time.Now().Add(time.Minute), 10)
				if err != nil {
					t.Fatal(err)
				}
				res.Debris += res2.Debris
				if res2.Unfinished != 1 { // the young upload is old enough now
					t.Errorf("second sweep %+v", res2)
				}
			}
			if res.Debris != debris {
				t.Errorf("swept %d pieces of debris, want %d", res.Debris, debris)
			}
			var left []string
			for _, r := range rows(t, db) {
				left = append(left, r.ID)
			}
			want := []string{kept.ID}
			if b.s3 == nil {
				want = append(want, young.ID)
			}
			slices.Sort(left)
			slices.Sort(want)
			if !slices.Equal(left, want) {
				t.Errorf("rows left %v, want %v", left, want)
			}
			if b.s3 == nil {
				files := certstoretest.Files(t, b.dir)
				for _, f := range files {
					if !strings.Contains(f, kept.ID) {
						t.Errorf("file left: %s", f)
					}
				}
			} else {
				ups, err := b.s3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(certstoretest.Bucket)})
				if err != nil || len(ups.Uploads) > 0 {
					t.Errorf("multipart uploads left: %v %v", ups, err)
				}
			}
		})
	}
}

func TestMigrateMovesAndReseals(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			db := storetest.Open(t)
			ctx := context.Background()
			// Certificates from before the store, bytes in the database.
			var legacy []models.Certificate
			for i, n := range []int{10, 70 << 10, 3 << 20} {
				plain, _ := document(n)
				sum := sha256.Sum256(plain)
				c := models.Certificate{ID: uuid.NewString(), SignupID: "s" + string(rune('a'+i)), Filename: "c.pdf", ContentType: "application/pdf",
					Size: int64(n), SHA256: hex.EncodeToString(sum[:]), Data: plain, State: certstore.StateStored, CreatedAt: time.Now().UTC()}
				if err := db.Create(&c).Error; err != nil {
					t.Fatal(err)
				}
				legacy = append(legacy, c)
			}
			s := open(t, b, testKeys, db)
			res, err := s.Migrate(ctx, 2, nil)
			if err != nil || res.Moved != 3 || res.Resealed != 0 {
				t.Fatalf("migrate: %+v, %v", res, err)
			}
			check := func(key string) {
				t.Helper()
				for _, want := range legacy {
					var c models.Certificate
					if err := db.Where("id = ?", want.ID).Take(&c).Error; err != nil {
						t.Fatal(err)
					}
					if c.Data != nil || c.ObjectKey == nil || *c.KeyID != key || !strings.HasSuffix(*c.ObjectKey, "."+key) {
						t.Fatalf("after migrate: data %d bytes, object %v, key %v", len(c.Data), c.ObjectKey, c.KeyID)
					}
					r, err := s.Open(ctx, c)
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(r)
					_ = r.Close()
					if err != nil || !bytes.Equal(got, want.Data) {
						t.Fatalf("read back: %d bytes, %v", len(got), err)
					}
				}
			}
			check("k1")
			// Twice is once.
			if res, err := s.Migrate(ctx, 2, nil); err != nil || res != (certstore.MigrateResult{}) {
				t.Fatalf("second migrate: %+v, %v", res, err)
			}
			_, marker := document(1)
			if hits := certstoretest.FilesContaining(t, b.dir, marker[:16]); len(hits) > 0 {
				t.Errorf("plaintext on disk after migrate: %v", hits)
			}

			// Rotation: k2 first, k1 still held. Migrate re-seals under k2
			// and deletes the k1 objects.
			rotated := codec.NewKeySpec("k2") + "," + testKeys
			s = open(t, b, rotated, db)
			res, err = s.Migrate(ctx, 2, nil)
			if err != nil || res.Resealed != 3 || res.Moved != 0 {
				t.Fatalf("reseal: %+v, %v", res, err)
			}
			check("k2")
			if res, err := s.Migrate(ctx, 2, nil); err != nil || res != (certstore.MigrateResult{}) {
				t.Fatalf("second reseal: %+v, %v", res, err)
			}
			st, err := s.Stats(ctx)
			if err != nil || st.InDatabase != 0 || st.ByKey["k2"] != 3 || len(st.ByKey) != 1 || st.Unsettled != 0 {
				t.Fatalf("stats %+v, %v", st, err)
			}
			// No k1 object is left behind; k1 can be dropped.
			it := s.Bucket().List(nil)
			n := 0
			for {
				obj, err := it.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(obj.Key, ".k2") {
					t.Errorf("object left: %s", obj.Key)
				}
				n++
			}
			if n != 3 {
				t.Errorf("%d objects, want 3", n)
			}
			only2 := open(t, b, strings.Split(rotated, ",")[0], db)
			var c models.Certificate
			db.Where("id = ?", legacy[2].ID).Take(&c)
			if r, err := only2.Open(ctx, c); err != nil {
				t.Fatalf("with k2 only: %v", err)
			} else {
				_, err := io.Copy(io.Discard, r)
				_ = r.Close()
				if err != nil {
					t.Fatalf("with k2 only: %v", err)
				}
			}
		})
	}
}

func TestMigrateRefusesBytesThatDoNotMatch(t *testing.T) {
	url, dir := certstoretest.FileURL(t)
	b := backend{name: "file", url: url, dir: dir}
	db := storetest.Open(t)
	c := models.Certificate{ID: uuid.NewString(), SignupID: "s", Filename: "c.pdf", ContentType: "application/pdf",
		Size: 4, SHA256: strings.Repeat("0", 64), Data: []byte("%PDF"), State: certstore.StateStored, CreatedAt: time.Now().UTC()}
	if err := db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
	s := open(t, b, testKeys, db)
	if _, err := s.Migrate(context.Background(), 10, nil); err == nil {
		t.Fatal("migrated bytes whose SHA-256 does not match the row")
	}
	var row models.Certificate
	db.Where("id = ?", c.ID).Take(&row)
	if !bytes.Equal(row.Data, []byte("%PDF")) || row.ObjectKey != nil {
		t.Errorf("the row changed: %+v", row)
	}
	if files := certstoretest.Files(t, dir); len(files) > 0 {
		t.Errorf("objects left: %v", files)
	}
}

func TestOpenRefusesBadURLs(t *testing.T) {
	kr, _ := codec.ParseKeyring(testKeys)
	db := storetest.Open(t)
	for _, u := range []string{"ftp://x", "file://relative/dir", "s3://", "certificates"} {
		if _, err := certstore.Open(context.Background(), u, kr, db, nil); err == nil {
			t.Errorf("Open(%q) accepted", u)
		}
	}
}

// BenchmarkUpload10MiB measures a 10 MiB upload, sealed, into each backend:
// its bytes allocated per upload show that the file is never held whole
// (the S3 writer holds one 5 MiB part).
func BenchmarkUpload10MiB(b *testing.B) {
	doc, _ := document(10 << 20)
	url, dir := certstoretest.FileURL(b)
	bes := []backend{{name: "file", url: url, dir: dir}}
	if certstoretest.Binary() != "" {
		s := certstoretest.StartS3(b)
		bes = append(bes, backend{name: "s3", url: s.URL, dir: s.Dir, s3: s.Client})
	}
	for _, be := range bes {
		b.Run(be.name, func(b *testing.B) {
			db := storetest.Open(b)
			kr, _ := codec.ParseKeyring(testKeys)
			s, err := certstore.Open(context.Background(), be.url, kr, db, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				c, err := s.Upload(context.Background(), "bench", "c.pdf", "application/pdf", bytes.NewReader(doc), 10<<20)
				if err != nil {
					b.Fatal(err)
				}
				if err := s.Discard(context.Background(), c.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
