// Command rtoverlay writes the `go build -overlay` file with which the
// Makefile builds husk: three edits to the start-up of the Go runtime of
// the toolchain at hand, each of which costs every husk process time
// before main on the test machine (~0.35 ms in all; see the README's
// "Build notes"):
//
//   - runtime/cgroup_linux.go: defaultGOMAXPROCSInit returns at once when
//     containermaxprocs=0, which husk sets (cmd/husk/godebug.go). With the
//     setting off, Go 1.25+ still reads /proc/self/cgroup and
//     /proc/self/mountinfo at every start, only to count in a runtime
//     metric whether the setting would have changed GOMAXPROCS.
//   - runtime/proc.go, main: gcenable runs after the package init
//     functions instead of before them. The init functions run with the
//     main goroutine locked to the main thread, and gcenable waits for the
//     sweeper and scavenger goroutines it starts: a locked goroutine that
//     waits hands its P to another thread, which the runtime has to start
//     first, and gets it back after two thread switches. After init the
//     main goroutine is unlocked and the same wait costs two goroutine
//     switches on the one thread. No garbage collection can start before
//     gcenable; the init functions allocate a few KB.
//   - runtime/proc.go, main: no template thread at start-up. A cgo program
//     starts it in case C code calls into Go from a thread C created;
//     husk has no such callbacks (no //export: TestNoCgoCallbacks in
//     cmd/husk keeps it so), and LockOSThread still starts it when it is
//     needed.
//
// The files are copies of the toolchain's own, edited here, under -o; the
// repository holds only the edits. When an edit's text is not found
// exactly once (another Go version), rtoverlay writes an empty overlay and
// says so, and husk is built with the runtime as it is: slower to start,
// otherwise the same.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// edit replaces old, which must occur exactly once in file (relative to
// GOROOT/src/runtime), with new.
type edit struct {
	file, old, new string
}

// edits are applied in order; two edits of one file see each other's
// result.
var edits = []edit{
	{
		file: "cgroup_linux.go",
		old:  "func defaultGOMAXPROCSInit() {\n",
		new: "func defaultGOMAXPROCSInit() {\n" +
			"\t// husk (scripts/rtoverlay): nothing reads the cgroup with the\n" +
			"\t// setting off but the non-default-behaviour metric.\n" +
			"\tif debug.containermaxprocs == 0 {\n\t\treturn\n\t}\n",
	},
	{
		file: "proc.go",
		old:  "\tgcenable()\n\tdefaultGOMAXPROCSUpdateEnable() // don't STW before runtime initialized.\n",
		new:  "\tdefaultGOMAXPROCSUpdateEnable() // don't STW before runtime initialized.\n",
	},
	{
		file: "proc.go",
		old:  "\tneedUnlock = false\n\tunlockOSThread()\n",
		new: "\tneedUnlock = false\n\tunlockOSThread()\n" +
			"\t// husk (scripts/rtoverlay): after init, where waiting for the\n" +
			"\t// sweeper and scavenger needs no other thread.\n" +
			"\tgcenable()\n",
	},
	{
		file: "proc.go",
		old:  "\t\tstartTemplateThread()\n\t\tcgocall(_cgo_notify_runtime_init_done, nil)\n",
		new: "\t\t// husk (scripts/rtoverlay): no C thread calls into Go;\n" +
			"\t\t// LockOSThread starts the template thread when needed.\n" +
			"\t\tcgocall(_cgo_notify_runtime_init_done, nil)\n",
	},
}

// applyEdits returns the edited contents of the runtime files read reads,
// by file name.
func applyEdits(read func(file string) (string, error)) (map[string]string, error) {
	out := map[string]string{}
	for i, e := range edits {
		src, ok := out[e.file]
		if !ok {
			var err error
			if src, err = read(e.file); err != nil {
				return nil, err
			}
		}
		if n := strings.Count(src, e.old); n != 1 {
			return nil, fmt.Errorf("edit %d: runtime/%s has its text %d times, not once", i+1, e.file, n)
		}
		out[e.file] = strings.Replace(src, e.old, e.new, 1)
	}
	return out, nil
}

// overlay is the JSON of `go build -overlay`.
type overlay struct {
	Replace map[string]string
}

func run(goroot, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return err
	}
	rtDir := filepath.Join(goroot, "src", "runtime")
	ov := overlay{Replace: map[string]string{}}
	files, err := applyEdits(func(file string) (string, error) {
		b, err := os.ReadFile(filepath.Join(rtDir, file))
		return string(b), err
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "rtoverlay: %v (Go at %s): husk is built with the Go runtime unchanged\n", err, goroot)
	} else {
		for name, src := range files {
			dst := filepath.Join(outDir, name)
			if err := os.WriteFile(dst, []byte(src), 0o644); err != nil {
				return err
			}
			ov.Replace[filepath.Join(rtDir, name)] = dst
		}
	}
	b, err := json.MarshalIndent(ov, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "overlay.json"), append(b, '\n'), 0o644)
}

func main() {
	goroot := flag.String("goroot", "", "the GOROOT of the toolchain that builds husk (go env GOROOT)")
	out := flag.String("o", "", "directory for the edited files and overlay.json")
	flag.Parse()
	if *goroot == "" || *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: rtoverlay -goroot DIR -o DIR")
		os.Exit(2)
	}
	if err := run(*goroot, *out); err != nil {
		fmt.Fprintf(os.Stderr, "rtoverlay: %v\n", err)
		os.Exit(1)
	}
}
