package park

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseMarks(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int
		ok   bool
	}{
		{"1000,10000", []int{1000, 10000}, true},
		{" 5 , 50 ,500", []int{5, 50, 500}, true},
		{"7", []int{7}, true},
		{"", nil, false},
		{"10,0", nil, false},
		{"10,-5", nil, false},
		{"10,,20", nil, false},
		{"1k", nil, false},
	} {
		got, err := ParseMarks(tt.in)
		if (err == nil) != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("ParseMarks(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// scrape sums a metric's series over their labels, skips comments and
// lines without a value, and ignores what does not parse.
func TestScrapeSumsSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`# HELP go_memstats_heap_inuse_bytes Heap in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 2.097152e+06
temporal_sticky_cache_size{namespace="default",worker_type="WorkflowWorker"} 12
temporal_sticky_cache_size{namespace="other",worker_type="WorkflowWorker"} 30
temporal_request 5 1700000000000
broken
empty_value 
not_a_number abc
`))
	}))
	defer srv.Close()
	m := scrape(context.Background(), srv.URL)
	for name, want := range map[string]float64{
		"go_memstats_heap_inuse_bytes": 2 << 20,
		"temporal_sticky_cache_size":   42,
		"temporal_request":             5,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	for _, name := range []string{"broken", "empty_value", "not_a_number"} {
		if _, ok := m[name]; ok {
			t.Errorf("%s was read: %v", name, m[name])
		}
	}
	if got := scrape(context.Background(), "http://127.0.0.1:1/metrics"); len(got) != 0 {
		t.Errorf("scrape of nothing = %v", got)
	}
}

func TestFileBytesCountsTheWAL(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "app.db")
	if got := fileBytes(db); got != 0 {
		t.Errorf("no file: %d", got)
	}
	if err := os.WriteFile(db, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := fileBytes(db); got != 4096 {
		t.Errorf("without WAL: %d", got)
	}
	if err := os.WriteFile(db+"-wal", make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := fileBytes(db); got != 5096 {
		t.Errorf("with WAL: %d", got)
	}
	if got, err := appDBBytes(context.Background(), dir, ""); err != nil || got != 5096 {
		t.Errorf("appDBBytes on SQLite = %d, %v", got, err)
	}
}

func TestSummary(t *testing.T) {
	var b bytes.Buffer
	Summary(&b, []Checkpoint{{Waiting: 100}})
	if b.Len() != 0 {
		t.Errorf("one checkpoint: %q, want nothing", b.String())
	}
	Summary(&b, []Checkpoint{
		{Waiting: 100, WorkerRSSMiB: 100, TemporalDBBytes: 1_000_000, AppDBBytes: 200_000},
		{Waiting: 1100, WorkerRSSMiB: 125, TemporalDBBytes: 3_000_000, AppDBBytes: 700_000},
	})
	for _, want := range []string{
		"worker RSS 100.0 MiB at 100 waiting, 125.0 MiB at 1100: +25.0%",
		"marginal bytes per waiting sign-up: Temporal 2000, application 500",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary %q lacks %q", b.String(), want)
		}
	}
}

func TestWriteReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "park.json")
	in := []Checkpoint{{Waiting: 10, WorkerRSSMiB: 50.5, WorkerCacheLimit: "1000"}}
	if err := WriteReport(path, "2 cores, test", "onboarding bench park --at 10", in); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Machine, Command, Go string
		Checkpoints          []Checkpoint
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Machine != "2 cores, test" || got.Command != "onboarding bench park --at 10" || !strings.HasPrefix(got.Go, "go") ||
		len(got.Checkpoints) != 1 || got.Checkpoints[0] != in[0] {
		t.Errorf("report %+v", got)
	}
	if !strings.Contains(string(b), `"worker_rss_mib": 50.5`) {
		t.Errorf("the checkpoints lost their JSON names:\n%s", b)
	}
}
