package certstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// s3PartSize is S3's smallest multipart part: what an upload holds in memory.
const s3PartSize = 5 << 20

// s3Writer streams an object into S3 holding at most one 5 MiB part in
// memory: an object under a part goes up in one PUT, a larger one as a
// multipart upload, part by part.
//
// gocloud.dev's s3blob writer is not used for writing: it goes through the
// AWS transfer manager, which reads up to its multipart threshold (16 MiB,
// not settable through gocloud) before it sends anything — the whole
// certificate — and keeps two parts in flight after that. Everything else
// (reading, deleting, attributes) goes through the bucket as usual; the
// metadata is written as s3blob writes it, so the bucket reads it back.
type s3Writer struct {
	ctx         context.Context
	client      *s3.Client
	bucket, key string
	metadata    map[string]string
	buf         []byte
	uploadID    *string
	parts       []types.CompletedPart
	err         error
}

func newS3Writer(ctx context.Context, client *s3.Client, bucket, key string, metadata map[string]string) *s3Writer {
	md := make(map[string]string, len(metadata))
	for k, v := range metadata {
		md[k] = url.PathEscape(v) // as s3blob writes (and reads) metadata values
	}
	return &s3Writer{ctx: ctx, client: client, bucket: bucket, key: key, metadata: md, buf: make([]byte, 0, s3PartSize)}
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == s3PartSize {
			if err := w.uploadPart(); err != nil {
				w.err = err
				return n, err
			}
		}
		c := copy(w.buf[len(w.buf):s3PartSize], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

// uploadPart sends what is buffered as the next part, starting the
// multipart upload with the first.
func (w *s3Writer) uploadPart() error {
	if w.uploadID == nil {
		out, err := w.client.CreateMultipartUpload(w.ctx, &s3.CreateMultipartUploadInput{
			Bucket: &w.bucket, Key: &w.key, ContentType: aws.String("application/octet-stream"), Metadata: w.metadata,
		})
		if err != nil {
			return fmt.Errorf("start multipart upload: %w", err)
		}
		w.uploadID = out.UploadId
	}
	num := int32(len(w.parts) + 1)
	out, err := w.client.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket: &w.bucket, Key: &w.key, UploadId: w.uploadID, PartNumber: &num,
		Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
	}, noPartChecksums)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", num, err)
	}
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: &num})
	w.buf = w.buf[:0]
	return nil
}

// noPartChecksums keeps the parts to the classic protocol (ETags only), which
// every S3-compatible server takes: an upload started without a checksum
// algorithm must not get per-part checksums. The sealed stream authenticates
// every byte end to end anyway.
func noPartChecksums(o *s3.Options) {
	o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
}

// Close commits the object: one PUT, or the last part and the completion.
// After an error nothing is committed; call Abort.
func (w *s3Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.uploadID == nil {
		_, err := w.client.PutObject(w.ctx, &s3.PutObjectInput{
			Bucket: &w.bucket, Key: &w.key, ContentType: aws.String("application/octet-stream"), Metadata: w.metadata,
			Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
		})
		if err != nil {
			return fmt.Errorf("put: %w", err)
		}
		return nil
	}
	if len(w.buf) > 0 {
		if err := w.uploadPart(); err != nil {
			return err
		}
	}
	_, err := w.client.CompleteMultipartUpload(w.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &w.bucket, Key: &w.key, UploadId: w.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
	})
	if err != nil {
		return fmt.Errorf("complete multipart upload: %w", err)
	}
	w.uploadID = nil
	return nil
}

// Abort drops a multipart upload under way (its parts are not an object,
// but S3 keeps and bills them until aborted). A failed abort is left to the
// sweep.
func (w *s3Writer) Abort() error {
	if w.uploadID == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), cleanupTimeout)
	defer cancel()
	_, err := w.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &w.bucket, Key: &w.key, UploadId: w.uploadID})
	var nf *types.NoSuchUpload
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("abort multipart upload: %w", err)
	}
	w.uploadID = nil
	return nil
}
