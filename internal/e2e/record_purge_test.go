package e2e

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kcloud/onboarding/internal/config"
	"github.com/kcloud/onboarding/workflows"
)

var purgeVersion = flag.String("purge-version", "purge-v1", "the purge workflow version the recorded histories belong to")

// TestRecordPurgeHistories records the purge workflow's paths — a
// retention run that erases in batches and sweeps, an operator's erase, an
// erase refused (not_ended) — for the replay test:
//
//	go test ./internal/e2e -run TestRecordPurgeHistories -record -purge-version purge-v1
func TestRecordPurgeHistories(t *testing.T) {
	if !*record {
		t.Skip("pass -record to record histories")
	}
	keys, err := os.ReadFile(filepath.Join("..", "..", "workflows", "testdata", "payload-keys"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("RECORD_PAYLOAD_KEYS", strings.TrimSpace(string(keys)))
	s := newStack(t, func(c *config.Config) { c.SignupIdleTimeout = 2 * time.Second })
	out := filepath.Join("..", "..", "workflows", "testdata")
	ctx := context.Background()

	// Three abandoned sign-ups, one with a certificate.
	var ids []string
	for i := range 3 {
		j := s.start(t)
		if i == 0 {
			expect(t, "upload", s.upload(j.id, j.token, "c.pdf", pdf), http.StatusCreated, "")
		}
		ids = append(ids, j.id)
	}
	for _, id := range ids {
		(&journey{s: s, id: id}).waitRow(t, "abandoned", 20*time.Second)
	}
	run := func(wid string, in workflows.PurgeInput) string {
		r, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: s.cfg.TemporalTaskQueue},
			workflows.PurgeWorkflowName, in)
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.PurgeResult
		err = r.Get(ctx, &res)
		t.Logf("%s: %+v, %v", wid, res, err)
		return r.GetRunID()
	}
	// A retention run: batches of two, then the sweep.
	rid := run("record-purge-"+ids[0], workflows.PurgeInput{Retention: 0, BatchSize: 2, SweepAfter: time.Minute})
	saveRun(t, s, "record-purge-"+ids[0], rid, filepath.Join(out, *purgeVersion+"-retention.json"))
	// An operator's erase of one sign-up (already erased: erasing is idempotent).
	rid = run("erase-"+ids[1], workflows.PurgeInput{SignupID: ids[1], Operator: "recorder", Reason: "a person's request"})
	saveRun(t, s, "erase-"+ids[1], rid, filepath.Join(out, *purgeVersion+"-erase.json"))
	// Refused: the sign-up has not ended.
	live := s.start(t)
	rid = run("erase-"+live.id, workflows.PurgeInput{SignupID: live.id, Operator: "recorder"})
	saveRun(t, s, "erase-"+live.id, rid, filepath.Join(out, *purgeVersion+"-not-ended.json"))
}

// waitRow polls the read model (the token no longer answers once ended).
func (j *journey) waitRow(t *testing.T, status string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var st string
		if err := j.s.db.Raw("SELECT status FROM signups WHERE id = ?", j.id).Scan(&st).Error; err != nil {
			t.Fatal(err)
		}
		if st == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %q after %s, want %q", st, within, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// saveRun stores a closed workflow run's history as JSON.
func saveRun(t *testing.T, s *stack, wid, runID, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := s.temporal.GetWorkflowHistory(ctx, wid, runID, false, 0)
	var h historypb.History
	for iter.HasNext() {
		e, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events of %s in %s", len(h.Events), wid, path)
}
