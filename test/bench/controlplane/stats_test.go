package controlplane

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 0.50, 50 * time.Millisecond},
		{"max", ms(hundred...), 1, 100 * time.Millisecond},
	} {
		if got := Percentile(tc.in, tc.q); got != tc.want {
			t.Errorf("%s: Percentile(q=%v) = %v, want %v", tc.name, tc.q, got, tc.want)
		}
	}
}

func TestSummarizeDoesNotReorderInput(t *testing.T) {
	in := []time.Duration{3, 1, 2}
	s := Summarize(in)
	if s.N != 3 || s.P50 != 2 || s.Max != 3 || s.Mean != 2 {
		t.Errorf("Summarize = %+v", s)
	}
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("input reordered: %v", in)
	}
	if (Summarize(nil) != LatencySummary{}) {
		t.Error("empty input should give the zero summary")
	}
}

func TestTableMarkdown(t *testing.T) {
	tb := &Table{Title: "T", Header: []string{"a", "long header"}}
	tb.Add("value", 3)
	tb.Add("x") // short rows are padded
	want := "T\n\n| a     | long header |\n| ----- | ----------- |\n| value | 3           |\n| x     |             |\n"
	if got := tb.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestWriteTSVKeepsOneLinePerRow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested")
	if err := WriteTSV(dir, "x.tsv", []string{"a", "b"}, [][]any{{1, "two\tthree\nfour"}, {2.5, nil}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "x.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[1] != "1\ttwo three four" || lines[2] != "2.5\t<nil>" {
		t.Errorf("TSV:\n%s", b)
	}
}

func TestLinearSlope(t *testing.T) {
	x := []float64{0, 1, 2, 3, math.NaN()}
	y := []float64{1, 3, 5, 7, 100}
	if got := LinearSlope(x, y); math.Abs(got-2) > 1e-9 {
		t.Errorf("slope = %v, want 2 (NaN point ignored)", got)
	}
	if got := LinearSlope([]float64{1}, []float64{1}); got != 0 {
		t.Errorf("one point: slope %v, want 0", got)
	}
	if got := LinearSlope([]float64{1, 1}, []float64{1, 5}); got != 0 {
		t.Errorf("vertical: slope %v, want 0", got)
	}
}

func TestMeanSkipsNaN(t *testing.T) {
	if got := Mean([]float64{1, math.NaN(), 3}); got != 2 {
		t.Errorf("Mean = %v, want 2", got)
	}
	if got := Mean([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("Mean of no values = %v, want NaN", got)
	}
}

// TestPropagationTablesSlices: the flatness rows cover the first and last
// 100 routes and every thousandth slice, and the parts add up.
func TestPropagationTablesSlices(t *testing.T) {
	results := make([]propagated, 2500)
	for i := range results {
		results[i] = propagated{total: time.Duration(i+10) * time.Millisecond, createCall: 4 * time.Millisecond}
	}
	tables := propagationTables(results, 3)
	var labels []string
	for _, r := range tables[0].Rows {
		labels = append(labels, r[0])
	}
	want := []string{"all 2500", "first 100", "1000..1099", "2000..2099", "last 100"}
	if strings.Join(labels, ",") != strings.Join(want, ",") {
		t.Errorf("rows %v, want %v", labels, want)
	}
	if tables[0].Rows[0][6] != "3" || tables[0].Rows[4][4] != "2509.0" {
		t.Errorf("all row %v, last row %v", tables[0].Rows[0], tables[0].Rows[4])
	}
	if got := tables[1].Rows[1]; got[0] != "create returned -> first 200" || got[1] != "1255.0" {
		t.Errorf("after-create row %v", got)
	}
}
