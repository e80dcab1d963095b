package controlplane

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric names the benchmarks read.
const (
	MetricStatusWrites = "gatehouse_controller_status_writes_total"
	// MetricStatusQueueDepth is the number of objects waiting for a status write.
	MetricStatusQueueDepth = "gatehouse_controller_status_queue_depth"
	MetricHeapAlloc        = "go_memstats_heap_alloc_bytes"
	MetricMallocs          = "go_memstats_mallocs_total"
	MetricGoroutines       = "go_goroutines"
)

// ParseMetrics reads the Prometheus text exposition format and returns, per
// counter, gauge or untyped metric, the sum of its series' values
// (summaries and histograms are left out: nothing here reads them).
func ParseMetrics(r io.Reader) (_ map[string]float64, err error) {
	// expfmt's text parser (v0.66) dereferences nil on some malformed
	// input (a label set with no metric name after a comment, found by
	// FuzzParseMetrics): a bad scrape must be an error, not a crash.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("metrics: malformed exposition (parser panicked: %v)", p)
		}
	}()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	out := make(map[string]float64, len(families))
	for name, f := range families {
		var sum float64
		seen := false
		for _, m := range f.GetMetric() {
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			sum += v
			seen = true
		}
		if seen {
			out[name] = sum
		}
	}
	return out, nil
}

// ScrapeMetrics fetches url (a /metrics endpoint) and parses it.
func ScrapeMetrics(ctx context.Context, c *http.Client, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	m, err := ParseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return m, nil
}

// Value returns m[name], or NaN when the metric is absent.
func Value(m map[string]float64, name string) float64 {
	if v, ok := m[name]; ok {
		return v
	}
	return math.NaN()
}
