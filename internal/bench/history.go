package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Histories are the events of a sample of completed sign-ups' workflow
// histories, per sign-up.
type Histories struct {
	Sampled int `json:"sampled"`
	Closed  int `json:"closed"` // of those, histories that had ended
	// Mean is the mean number of events per history; ByType the mean per
	// event type, with markers split by name (MarkerRecorded/LocalActivity,
	// MarkerRecorded/Version).
	Mean   float64            `json:"mean_events"`
	ByType map[string]float64 `json:"mean_by_type"`
	Min    int                `json:"min_events"`
	Max    int                `json:"max_events"`
}

// Sample picks up to n of ids spread evenly over the list.
func Sample(ids []string, n int) []string {
	if n <= 0 || len(ids) == 0 {
		return nil
	}
	if len(ids) <= n {
		return slices.Clone(ids)
	}
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, ids[i*len(ids)/n])
	}
	return out
}

// SampleHistories reads the whole history of each workflow and counts its
// events by type.
func SampleHistories(ctx context.Context, c client.Client, workflowIDs []string) (*Histories, error) {
	h := &Histories{ByType: map[string]float64{}}
	total := 0
	for _, id := range workflowIDs {
		it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n, closed := 0, false
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("bench: history of %s: %w", id, err)
			}
			n++
			h.ByType[eventKey(ev.GetEventType(), ev.GetMarkerRecordedEventAttributes().GetMarkerName())]++
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
				enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
				enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
				closed = true
			}
		}
		if h.Sampled == 0 || n < h.Min {
			h.Min = n
		}
		h.Max = max(h.Max, n)
		h.Sampled++
		total += n
		if closed {
			h.Closed++
		}
	}
	if h.Sampled == 0 {
		return h, nil
	}
	h.Mean = float64(total) / float64(h.Sampled)
	for k := range h.ByType {
		h.ByType[k] /= float64(h.Sampled)
	}
	return h, nil
}

func eventKey(t enumspb.EventType, marker string) string {
	if t == enumspb.EVENT_TYPE_MARKER_RECORDED && marker != "" {
		return t.String() + "/" + marker
	}
	return t.String()
}

// PrintHistories writes the events per sign-up, most frequent first.
func PrintHistories(w io.Writer, h *Histories) {
	if h == nil || h.Sampled == 0 {
		return
	}
	fmt.Fprintf(w, "\nhistory events per sign-up: %.1f (min %d, max %d; %d completed sign-ups sampled, %d histories closed)\n",
		h.Mean, h.Min, h.Max, h.Sampled, h.Closed)
	keys := slices.Collect(maps.Keys(h.ByType))
	sort.Slice(keys, func(i, j int) bool {
		a, b := h.ByType[keys[i]], h.ByType[keys[j]]
		return a > b || (a == b && keys[i] < keys[j])
	})
	for _, k := range keys {
		fmt.Fprintf(w, "  %-44s %6.2f\n", k, h.ByType[k])
	}
}
