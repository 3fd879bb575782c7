package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWritePidFileHasNoNewlineAndNoTempLeft(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "init.pid")
	if err := os.WriteFile(path, []byte("stale contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writePidFile(path, 4242); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != "4242" {
		t.Errorf("pid file = %q, want %q", data, "4242")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the pid file", len(entries))
	}
}

func TestWritePidFileInMissingDirFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "init.pid")
	err := writePidFile(path, 1)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("writePidFile(%s) = %v, want an error naming the directory", path, err)
	}
}

func TestRemoveLeftoverDirStaysInsideRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	victim := filepath.Join(base, "victim")
	for _, d := range []string{filepath.Join(root, "abc"), victim} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"../victim", "..", ".", "", "a/../../victim"} {
		removeLeftoverDir(root, id)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Errorf("directory outside the root removed: %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root removed: %v", err)
	}
	removeLeftoverDir(root, "abc")
	if _, err := os.Stat(filepath.Join(root, "abc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover state directory not removed: %v", err)
	}
}
