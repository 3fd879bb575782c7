package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The edits are written for Go 1.26's runtime: with that toolchain they
// must apply, or husk would quietly be built without them.
func TestEditsApplyToThisToolchain(t *testing.T) {
	if !strings.HasPrefix(runtime.Version(), "go1.26") {
		t.Skipf("the edits were written for go1.26's runtime; this toolchain is %s (the build then leaves the runtime unchanged)", runtime.Version())
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	rtDir := filepath.Join(strings.TrimSpace(string(out)), "src", "runtime")
	files, err := applyEdits(func(file string) (string, error) {
		b, err := os.ReadFile(filepath.Join(rtDir, file))
		return string(b), err
	})
	if err != nil {
		t.Fatal(err)
	}
	proc := files["proc.go"]
	if strings.Contains(proc, "startTemplateThread()\n\t\tcgocall(_cgo_notify_runtime_init_done") {
		t.Error("proc.go still starts the template thread at start-up")
	}
	if i, j := strings.Index(proc, "\tunlockOSThread()\n\t// husk"), strings.Index(proc, "\tgcenable()\n"); i < 0 || j < i {
		t.Errorf("gcenable is not after the init functions' unlockOSThread (at %d, %d)", j, i)
	}
	if !strings.Contains(files["cgroup_linux.go"], "if debug.containermaxprocs == 0 {\n\t\treturn") {
		t.Error("defaultGOMAXPROCSInit does not return early")
	}
}

func TestApplyEditsNeedsEachTextOnce(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"missing", "package runtime\n"},
		{"twice", strings.Repeat(edits[0].old, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := applyEdits(func(string) (string, error) { return tc.src, nil })
			if err == nil || !strings.Contains(err.Error(), "runtime/"+edits[0].file) {
				t.Fatalf("err = %v, want one naming runtime/%s", err, edits[0].file)
			}
		})
	}
}

// fakeGoroot makes a GOROOT whose runtime files hold every edit's text
// (once) when complete, or lack proc.go's when not.
func fakeGoroot(t *testing.T, complete bool) string {
	root := t.TempDir()
	rt := filepath.Join(root, "src", "runtime")
	if err := os.MkdirAll(rt, 0o755); err != nil {
		t.Fatal(err)
	}
	srcs := map[string]string{}
	for _, e := range edits {
		if e.file == "proc.go" && !complete {
			continue
		}
		srcs[e.file] += "// before\n" + e.old + "// after\n"
	}
	for _, f := range []string{"proc.go", "cgroup_linux.go"} {
		if err := os.WriteFile(filepath.Join(rt, f), []byte("package runtime\n"+srcs[f]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readOverlay(t *testing.T, dir string) overlay {
	b, err := os.ReadFile(filepath.Join(dir, "overlay.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ov overlay
	if err := json.Unmarshal(b, &ov); err != nil {
		t.Fatal(err)
	}
	return ov
}

func TestRunWritesEditedFiles(t *testing.T) {
	root, out := fakeGoroot(t, true), t.TempDir()
	if err := run(root, out); err != nil {
		t.Fatal(err)
	}
	ov := readOverlay(t, out)
	if len(ov.Replace) != 2 {
		t.Fatalf("overlay replaces %d files, want 2: %v", len(ov.Replace), ov.Replace)
	}
	for orig, edited := range ov.Replace {
		if filepath.Dir(orig) != filepath.Join(root, "src", "runtime") {
			t.Errorf("overlay replaces %s, outside the runtime", orig)
		}
		b, err := os.ReadFile(edited)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range edits {
			if filepath.Base(orig) == e.file && !strings.Contains(string(b), e.new) {
				t.Errorf("%s lacks the edit %q", edited, e.new)
			}
		}
	}
}

func TestRunLeavesRuntimeAloneWhenAnEditMisses(t *testing.T) {
	root, out := fakeGoroot(t, false), t.TempDir()
	if err := run(root, out); err != nil {
		t.Fatal(err)
	}
	if ov := readOverlay(t, out); len(ov.Replace) != 0 {
		t.Fatalf("overlay replaces %v; want nothing when an edit does not apply", ov.Replace)
	}
}
