package workflows_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kcloud/onboarding/workflows"
)

// TestReplayRecordedHistories replays every history recorded from a real
// server (workflows/testdata, made by the e2e package's -record test)
// against the current workflow code. A change that would break running
// sign-ups fails here: put it behind workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.Signup, workflow.RegisterOptions{Name: workflows.SignupWorkflowName})
			logger := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
			if err := r.ReplayWorkflowHistoryFromJSONFile(logger, f); err != nil {
				t.Fatalf("replay of %s: %v", f, err)
			}
		})
	}
}
