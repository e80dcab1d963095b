package controlplane

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const sampleMetrics = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# TYPE go_memstats_mallocs_total counter
go_memstats_mallocs_total 1.5e+06
# TYPE gatehouse_controller_status_writes_total counter
gatehouse_controller_status_writes_total 17
# TYPE requests_total counter
requests_total{code="200"} 3
requests_total{code="500"} 4
# TYPE latency histogram
latency_bucket{le="1"} 1
latency_bucket{le="+Inf"} 2
latency_sum 3
latency_count 2
`

func TestParseMetrics(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(sampleMetrics))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		MetricGoroutines: 42, MetricMallocs: 1.5e6, MetricStatusWrites: 17, "requests_total": 7,
	} {
		if got := m[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if _, ok := m["latency"]; ok {
		t.Error("histograms should be left out")
	}
	if v := Value(m, "absent"); !math.IsNaN(v) {
		t.Errorf("absent metric = %v, want NaN", v)
	}
}

func TestParseMetricsRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		"go_goroutines forty-two\n",
		"#00000000000000000\n{}", // made expfmt panic (fuzz crasher)
	} {
		m, err := ParseMetrics(strings.NewReader(in))
		if err == nil || m != nil || !strings.Contains(err.Error(), "metrics") {
			t.Errorf("%q: %v, error %v", in, m, err)
		}
	}
}

func TestScrapeMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, sampleMetrics)
	}))
	defer srv.Close()
	m, err := ScrapeMetrics(context.Background(), srv.Client(), srv.URL+"/metrics")
	if err != nil || m[MetricGoroutines] != 42 {
		t.Fatalf("scrape: %v %v", m, err)
	}
	if _, err := ScrapeMetrics(context.Background(), srv.Client(), srv.URL+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: error %v", err)
	}
}

// TestProcessSamplerRates: the second sample of the same process gives CPU
// and allocation rates; a different PID restarts the rates.
func TestProcessSamplerRates(t *testing.T) {
	mallocs := 1000.0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total %v\ngo_memstats_heap_alloc_bytes 2097152\ngo_goroutines 5\n", mallocs)
	}))
	defer srv.Close()
	pid := selfPID()
	p := &ProcessSampler{Name: "self", PID: func() int { return pid }, MetricsURL: func() string { return srv.URL }, Client: srv.Client()}
	first := p.Sample(context.Background(), nowAt(0))
	if !math.IsNaN(first.AllocsPerS) || !math.IsNaN(first.CPUPercent) {
		t.Errorf("first sample has rates: %+v", first)
	}
	if first.HeapMB != 2 || first.Goroutines != 5 || first.RSSMB <= 0 {
		t.Errorf("first sample: %+v", first)
	}
	mallocs = 6000
	second := p.Sample(context.Background(), nowAt(5))
	if second.AllocsPerS != 1000 {
		t.Errorf("allocations/s = %v, want 1000", second.AllocsPerS)
	}
	if math.IsNaN(second.CPUPercent) || second.CPUPercent < 0 {
		t.Errorf("CPU %% = %v", second.CPUPercent)
	}
	pid = -1 // the process went away
	third := p.Sample(context.Background(), nowAt(10))
	if !math.IsNaN(third.RSSMB) || !math.IsNaN(third.AllocsPerS) {
		t.Errorf("sample of a missing process: %+v", third)
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add(sampleMetrics)
	f.Add("x{a=\"b\"} 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMetrics(strings.NewReader(s))
		if err == nil && m == nil {
			t.Error("nil map without an error")
		}
	})
}
