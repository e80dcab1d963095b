package controlplane

import (
	"context"
	"math"
	"net/http"
	"time"
)

// ProcessSample is one observation of a Go process: from /proc (CPU, RSS)
// and from its /metrics (Go collector). Rates are over the interval since
// the previous sample; a value that could not be read is NaN.
type ProcessSample struct {
	At         time.Time
	CPUPercent float64 // of one core
	RSSMB      float64
	HeapMB     float64
	AllocsPerS float64
	Goroutines float64
}

// ProcessSampler samples one process. PID and MetricsURL are looked up on
// every sample, so a process that is replaced (a new proxy pod) is followed.
type ProcessSampler struct {
	Name       string
	PID        func() int
	MetricsURL func() string
	Client     *http.Client

	prevAt      time.Time
	prevPID     int
	prevCPU     float64
	prevMallocs float64
}

// Sample takes one observation.
func (p *ProcessSampler) Sample(ctx context.Context, now time.Time) ProcessSample {
	s := ProcessSample{At: now, CPUPercent: math.NaN(), RSSMB: math.NaN(), HeapMB: math.NaN(),
		AllocsPerS: math.NaN(), Goroutines: math.NaN()}
	pid := p.PID()
	dt := now.Sub(p.prevAt).Seconds()
	samePID := pid > 0 && pid == p.prevPID && !p.prevAt.IsZero() && dt > 0
	if st, err := ReadProcStat(pid); pid > 0 && err == nil {
		cpu := st.CPUSeconds()
		if samePID {
			s.CPUPercent = 100 * (cpu - p.prevCPU) / dt
		}
		p.prevCPU = cpu
	}
	// RSS from /proc/PID/status: its counters are exact, where the rss
	// field of /proc/PID/stat is a per-CPU-cached approximation that was
	// seen 15 MB off for a proxy.
	if r, err := ReadRSSBreakdown(pid); pid > 0 && err == nil {
		s.RSSMB = float64(r.Total()) / (1 << 20)
	}
	if url := p.MetricsURL(); url != "" {
		mctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		m, err := ScrapeMetrics(mctx, p.Client, url)
		cancel()
		if err == nil {
			s.HeapMB = Value(m, MetricHeapAlloc) / (1 << 20)
			s.Goroutines = Value(m, MetricGoroutines)
			mallocs := Value(m, MetricMallocs)
			if samePID && !math.IsNaN(p.prevMallocs) {
				s.AllocsPerS = (mallocs - p.prevMallocs) / dt
			}
			p.prevMallocs = mallocs
		} else {
			p.prevMallocs = math.NaN()
		}
	}
	p.prevAt, p.prevPID = now, pid
	return s
}
