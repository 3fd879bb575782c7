package main

import (
	"math"
	"strings"
	"testing"
)

func TestSummarizeMedianMinMax(t *testing.T) {
	for _, tc := range []struct {
		in                   []float64
		median, min, max, mu float64
	}{
		{[]float64{3, 1, 2}, 2, 1, 3, 2},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, 2.5},
		{[]float64{7}, 7, 7, 7, 7},
	} {
		s := summarize("run", "husk", "ms", tc.in)
		if s.Median != tc.median || s.Min != tc.min || s.Max != tc.max || s.Mean != tc.mu {
			t.Errorf("summarize(%v) = median %v min %v max %v mean %v, want %v %v %v %v",
				tc.in, s.Median, s.Min, s.Max, s.Mean, tc.median, tc.min, tc.max, tc.mu)
		}
	}
	in := []float64{3, 1, 2}
	summarize("run", "husk", "ms", in)
	if in[0] != 3 || in[1] != 1 {
		t.Errorf("summarize reordered its input: %v", in)
	}
}

func TestDivByZeroIsZero(t *testing.T) {
	if got := div(1, 0); got != 0 {
		t.Errorf("div(1, 0) = %v, want 0", got)
	}
	if got := div(3, 2); math.Abs(got-1.5) > 1e-12 {
		t.Errorf("div(3, 2) = %v, want 1.5", got)
	}
}

// Summaries as strace 6.1 writes them, with and without failed calls.
const straceWithErrors = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 40.00    0.000040          10         4         1 openat
 60.00    0.000060           2        25           mmap
------ ----------- ----------- --------- --------- ----------------
100.00    0.000100           3        29         1 total
`

const straceNoErrors = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
100.00    0.000000           0      2418           futex
------ ----------- ----------- --------- --------- ----------------
100.00    0.000000           0      2418           total
`

func TestStraceTotalCalls(t *testing.T) {
	for in, want := range map[string]int{straceWithErrors: 29, straceNoErrors: 2418} {
		got, err := straceTotalCalls(in)
		if err != nil || got != want {
			t.Errorf("straceTotalCalls = %d, %v; want %d", got, err, want)
		}
	}
	if _, err := straceTotalCalls(strings.Replace(straceNoErrors, "total", "futex", 1)); err == nil {
		t.Error("a summary without a total line was accepted")
	}
	if _, err := straceTotalCalls("100.00 0.1 0 12 total\n"); err == nil {
		t.Error("a summary without a header was accepted")
	}
}
