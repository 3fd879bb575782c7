package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/husk-runtime/husk/specconv"
)

// The README shows this program verbatim; this keeps the two from drifting.
func TestREADMEQuotesExampleVerbatim(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, src) {
		t.Error("README.md does not quote examples/run/main.go verbatim; copy the file into its Go example block")
	}
}

// TestExampleRunsBusyboxContainer builds the example and runs a busybox
// container with it.
func TestExampleRunsBusyboxContainer(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create namespaces and cgroups")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (apt-get install busybox-static)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "run")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	bundle := filepath.Join(dir, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"bin", "proc", "sys", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), busybox, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "hostname", "echo"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}

	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	parent := "husk-test-" + hex.EncodeToString(rnd[:])
	id := "example"
	t.Cleanup(func() { removeCgroups(t, parent, id) })

	spec := specconv.Example()
	spec.Process.Terminal = false
	spec.Process.Args = []string{"sh", "-c", "echo hello from $(hostname)"}
	spec.Linux.CgroupsPath = "/" + parent + "/" + id
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, bundle, id)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("run example: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	want := "hello from " + spec.Hostname
	if got := strings.TrimSpace(stdout.String()); got != want {
		t.Errorf("container printed %q, want %q (stderr: %s)", got, want, stderr.String())
	}
}

// removeCgroups removes the cgroup parent/id and parent from every v1
// hierarchy and the unified one, if the test left them.
func removeCgroups(t *testing.T, parent, id string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
	for _, d := range dirs {
		for _, p := range []string{filepath.Join(d, id), d} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("remove cgroup %s: %v", p, err)
			}
		}
	}
}
