package rawfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	path := filepath.Join(dir, "state")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := WriteAtomic(path, []byte(strings.Repeat("x", 100*i+1)), 0o644); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || len(b)%100 != 1 || strings.Trim(string(b), "x") != "" {
		t.Errorf("state file holds %d bytes of %q...: not one writer's whole content", len(b), b[:min(len(b), 8)])
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 whatever the umask", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left in the directory: %v; want only state", entries)
	}
	if err := WriteAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("write into a missing directory: %v; want an error naming it", err)
	}
}

func TestStageFileAppearsOnlyOnRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	tmp, err := Stage(path, []byte("state"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists before the rename (%v)", path, err)
	}
	if filepath.Dir(tmp) != dir {
		t.Errorf("staged in %s, want %s (rename(2) works within one file system)", filepath.Dir(tmp), dir)
	}
	if err := Commit(tmp, path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "state" {
		t.Errorf("after the rename: %q, %v", b, err)
	}
	if _, err := os.Lstat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s left behind (%v)", tmp, err)
	}
}
