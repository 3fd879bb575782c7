package rawfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 100000} {
		p := filepath.Join(dir, "f")
		want := []byte(strings.Repeat("x", size))
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("size %d: read %d bytes", size, len(got))
		}
	}
	// /proc files report size 0: read to EOF all the same.
	got, err := ReadFile("/proc/self/stat")
	if err != nil || len(got) == 0 {
		t.Errorf("/proc/self/stat: %q, %v", got, err)
	}
	_, err = ReadFile(filepath.Join(dir, "missing"))
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Op != "open" {
		t.Errorf("missing file: %v; want an open *fs.PathError matching fs.ErrNotExist", err)
	}
	if _, err := ReadFile(dir); err == nil {
		t.Error("reading a directory as a file: no error")
	}
}

func TestReadDirNames(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 300 {
		name := strings.Repeat("n", 1+i%40) + string(rune('a'+i%26)) + filepath.Base(t.Name()) + string(rune('0'+i%10)) + strings.Repeat("z", i/26)
		if slices.Contains(want, name) {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	got, err := ReadDirNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %d names, want %d (more than one getdents64 buffer)", len(got), len(want))
	}
	if _, err := ReadDirNames(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: %v", err)
	}
}

func TestReadWhole(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{0, 1, 511, 512, 513, 1024, 100000} {
		p := filepath.Join(dir, "f")
		want := []byte(strings.Repeat("y", size))
		if err := os.WriteFile(p, want, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, first := range []int{1, 512, 4096} {
			got, err := ReadWhole(p, first)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("size %d, first buffer %d: read %d bytes", size, first, len(got))
			}
		}
	}
	got, err := ReadWhole("/proc/self/stat", 16)
	if err != nil || !strings.HasSuffix(string(got), "\n") {
		t.Errorf("/proc/self/stat from a 16-byte first buffer: %q, %v; want the whole line", got, err)
	}
	if _, err := ReadWhole(filepath.Join(dir, "missing"), 512); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
