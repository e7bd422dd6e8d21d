package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/internal/codec"
	"github.com/kcloud/onboarding/workflows"
)

// TestReplayRecordedHistories replays every history recorded from a real
// server (workflows/testdata, made by the e2e package's -record tests: the
// sign-up's v*-*.json, the purge's purge-v*-*.json) against the current
// workflow code. A change that would break running
// sign-ups fails here: put it behind workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata")
	}
	// The recorder seals payloads with this test-only key.
	spec, err := os.ReadFile(filepath.Join("testdata", "payload-keys"))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := codec.ParseKeyring(strings.TrimSpace(string(spec)))
	if err != nil {
		t.Fatal(err)
	}
	dc := codec.DataConverter(kr)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc, FailureConverter: codec.FailureConverter(dc)})
			if err != nil {
				t.Fatal(err)
			}
			r.RegisterWorkflowWithOptions(workflows.Signup, workflow.RegisterOptions{Name: workflows.SignupWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.Purge, workflow.RegisterOptions{Name: workflows.PurgeWorkflowName})
			logger := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatalf("replay of %s: %v", f, err)
			}
		})
	}
}
