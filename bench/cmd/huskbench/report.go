package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// stats summarises the samples of one operation on one runtime.
type stats struct {
	Op      string    `json:"op"`
	Runtime string    `json:"runtime"`
	Unit    string    `json:"unit"`
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	Mean    float64   `json:"mean"`
	Samples []float64 `json:"samples"`
}

// ratio compares husk's median with the others' for one operation.
type ratio struct {
	Op       string  `json:"op"`
	HuskRunc float64 `json:"husk_runc"`
	HuskCrun float64 `json:"husk_crun"`
}

// report is the content of the JSON file.
type report struct {
	Time         time.Time         `json:"time"`
	Kernel       string            `json:"kernel"`
	Runtimes     map[string]string `json:"runtimes"`
	N            int               `json:"n"`
	Warmup       int               `json:"warmup"`
	BatchN       int               `json:"batch_n"`
	BatchSize    int               `json:"batch_size"`
	CgroupParent string            `json:"cgroup_parent"`
	Ops          map[string]string `json:"ops"`
	Results      []stats           `json:"results"`
	Ratios       []ratio           `json:"ratios"`
}

func summarize(op, runtime, unit string, samples []float64) stats {
	s := stats{Op: op, Runtime: runtime, Unit: unit, Samples: samples}
	if len(samples) == 0 {
		return s
	}
	sorted := append([]float64(nil), samples...)
	sort.Float64s(sorted)
	n := len(sorted)
	if n%2 == 1 {
		s.Median = sorted[n/2]
	} else {
		s.Median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	s.Min, s.Max = sorted[0], sorted[n-1]
	var sum float64
	for _, v := range sorted {
		sum += v
	}
	s.Mean = sum / float64(n)
	return s
}

func (b *bench) report() *report {
	rep := &report{
		Time: time.Now().UTC(), Runtimes: map[string]string{}, Ops: map[string]string{},
		N: b.o.n, Warmup: b.o.warmup, BatchN: b.o.batchN, BatchSize: b.o.batchSize,
		CgroupParent: b.cgParent,
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		rep.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	for _, r := range b.rts {
		rep.Runtimes[r.name] = r.path + " " + version(r.path)
	}
	for _, op := range b.ops {
		rep.Ops[op.name] = op.desc
		med := map[string]float64{}
		for _, r := range b.rts {
			s := summarize(op.name, r.name, op.unit, b.samples[op.name+"\x00"+r.name])
			rep.Results = append(rep.Results, s)
			med[r.name] = s.Median
		}
		rep.Ratios = append(rep.Ratios, ratio{Op: op.name, HuskRunc: div(med["husk"], med["runc"]), HuskCrun: div(med["husk"], med["crun"])})
	}
	return rep
}

// div is a/b, or 0 when b is 0 (JSON has no infinity).
func div(a, b float64) float64 {
	if b == 0 || math.IsNaN(a/b) {
		return 0
	}
	return a / b
}

// version is the first line of `<runtime> --version`, without the name.
func version(path string) string {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "(version unknown)"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// printTable prints one row per operation and runtime; husk's row carries
// the ratios of its median to runc's and crun's.
func printTable(w io.Writer, rep *report) {
	ratios := map[string]ratio{}
	for _, r := range rep.Ratios {
		ratios[r.Op] = r
	}
	fmt.Fprintf(w, "\n%d timed rounds per operation (batch: %d), %d warm-up, interleaved (one of each per round, in a rotating order)\n", rep.N, rep.BatchN, rep.Warmup)
	for _, name := range []string{"husk", "runc", "crun"} {
		fmt.Fprintf(w, "  %s: %s\n", name, rep.Runtimes[name])
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tunit\truntime\tmedian\tmin\tmax\thusk/runc\thusk/crun\t")
	for _, s := range rep.Results {
		hr, hc := "", ""
		if s.Runtime == "husk" {
			hr, hc = fmt.Sprintf("%.2f", ratios[s.Op].HuskRunc), fmt.Sprintf("%.2f", ratios[s.Op].HuskCrun)
		}
		f := "%.2f"
		if s.Unit == "calls" {
			f = "%.0f"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t"+f+"\t"+f+"\t"+f+"\t%s\t%s\t\n", s.Op, s.Unit, s.Runtime, s.Median, s.Min, s.Max, hr, hc)
	}
	tw.Flush()
}

func writeJSON(path string, rep *report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
