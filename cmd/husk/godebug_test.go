package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Makefile builds husk with a Go runtime that starts no cgo template
// thread (scripts/rtoverlay). That thread serves C code calling into Go
// from a thread C created, which would then crash the process with "on a
// locked thread with no template thread": no package husk is built from
// may export a Go function to C.
func TestNoCgoCallbacks(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list husk's packages with")
	}
	out, err := exec.Command("go", "list", "-deps", "-tags", "netgo,osusergo",
		"-f", "{{if not .Standard}}{{.Dir}}{{range .CgoFiles}} {{.}}{{end}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, name := range f[min(1, len(f)):] {
			path := filepath.Join(f[0], name)
			if exportsToC(t, path) {
				t.Errorf("%s exports a Go function to C (//export): husk's runtime starts no template thread (see scripts/rtoverlay)", path)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("go list found no cgo files; husk has some (nsenter)")
	}
}

func exportsToC(t *testing.T, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), "//export ") {
			return true
		}
	}
	return s.Err() != nil
}
