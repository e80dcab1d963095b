package controlplane

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// LatencySummary describes a set of latencies.
type LatencySummary struct {
	N                        int
	P50, P90, P99, Max, Mean time.Duration
}

// Summarize computes nearest-rank percentiles of d (which it does not
// modify). An empty input gives the zero summary.
func Summarize(d []time.Duration) LatencySummary {
	if len(d) == 0 {
		return LatencySummary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return LatencySummary{N: len(s), P50: Percentile(s, 0.50), P90: Percentile(s, 0.90),
		P99: Percentile(s, 0.99), Max: s[len(s)-1], Mean: sum / time.Duration(len(s))}
}

// Percentile returns the nearest-rank q-quantile (0 < q <= 1) of sorted:
// the smallest value with at least q of the values at or below it.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// Ms formats d in milliseconds with one decimal.
func Ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}

// Table is a summary table, printed as Markdown so it can be pasted into
// docs/benchmarks.md as it is.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
}

// Add appends a row; values are formatted with %v.
func (t *Table) Add(values ...any) {
	row := make([]string, len(values))
	for i, v := range values {
		row[i] = fmt.Sprint(v)
	}
	t.Rows = append(t.Rows, row)
}

// String renders the table as Markdown with padded columns.
func (t *Table) String() string {
	width := make([]int, len(t.Header))
	for i, h := range t.Header {
		width[i] = len(h)
	}
	for _, r := range t.Rows {
		for i := range min(len(r), len(width)) {
			width[i] = max(width[i], len(r[i]))
		}
	}
	var b strings.Builder
	if t.Title != "" {
		fmt.Fprintf(&b, "%s\n\n", t.Title)
	}
	line := func(cells []string) {
		b.WriteString("|")
		for i := range width {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			fmt.Fprintf(&b, " %-*s |", width[i], c)
		}
		b.WriteString("\n")
	}
	line(t.Header)
	sep := make([]string, len(width))
	for i, w := range width {
		sep[i] = strings.Repeat("-", w)
	}
	line(sep)
	for _, r := range t.Rows {
		line(r)
	}
	return b.String()
}

// WriteTSV writes header and rows as tab-separated values to dir/name,
// creating dir. Values are formatted with %v; tabs and newlines inside a
// value are replaced by spaces so every row stays one line.
func WriteTSV(dir, name string, header []string, rows [][]any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(strings.Join(header, "\t") + "\n")
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	for _, r := range rows {
		for i, v := range r {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(clean.Replace(fmt.Sprint(v)))
		}
		b.WriteByte('\n')
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644)
}

// LinearSlope returns the least-squares slope of y over x (units of y per
// unit of x), ignoring NaN points; 0 with fewer than two points.
func LinearSlope(x, y []float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for i := range min(len(x), len(y)) {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			continue
		}
		n++
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	den := n*sxx - sx*sx
	if n < 2 || den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// Mean returns the mean of the non-NaN values of v, NaN if there are none.
func Mean(v []float64) float64 {
	var n, s float64
	for _, x := range v {
		if !math.IsNaN(x) {
			n++
			s += x
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / n
}
