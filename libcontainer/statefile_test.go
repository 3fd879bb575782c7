package libcontainer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestRemoveStateDir(t *testing.T) {
	root := t.TempDir()
	for _, extra := range []string{"", "other-file"} {
		dir := filepath.Join(root, "c"+extra)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{stateFile, configFile, extra} {
			if name != "" {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := removeStateDir(dir, false); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists (%v)", dir, err)
		}
		if err := removeStateDir(dir, false); err != nil {
			t.Errorf("removing it again: %v", err)
		}
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// A deleted container's emptied state directory is kept as the root's
// spare one and becomes the next container's, renamed: no directory is
// made or removed (each a block allocated, or freed and discarded, on
// ext4).
func TestStateDirKeptForTheNextCreate(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a")
	if err := makeStateDir(root, a); err != nil {
		t.Fatal(err)
	}
	ino := inode(t, a)
	if err := os.WriteFile(filepath.Join(a, stateFile), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := removeStateDir(a, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s still exists (%v)", a, err)
	}
	if got := inode(t, filepath.Join(root, spareDir)); got != ino {
		t.Fatalf("spare directory is inode %d, want the deleted one's, %d", got, ino)
	}
	b := filepath.Join(root, "b")
	if err := makeStateDir(root, b); err != nil {
		t.Fatal(err)
	}
	if got := inode(t, b); got != ino {
		t.Errorf("new state directory is inode %d, want the spare one, %d", got, ino)
	}
	if _, err := os.Lstat(filepath.Join(root, spareDir)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the spare directory is still there after a create took it (%v)", err)
	}
	// An ID in use is refused, and the spare is not lost to it.
	if err := removeStateDir(b, true); err != nil {
		t.Fatal(err)
	}
	c := filepath.Join(root, "c")
	if err := os.Mkdir(c, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := makeStateDir(root, c); err != unix.EEXIST {
		t.Errorf("makeStateDir of an existing directory: %v, want EEXIST", err)
	}
	if got := inode(t, filepath.Join(root, spareDir)); got != ino {
		t.Errorf("spare directory is inode %d after a refused create, want %d", got, ino)
	}
	// With a spare already, and with a file husk does not know, the
	// directory is removed.
	for _, extra := range []string{"", "other-file"} {
		d := filepath.Join(root, "d"+extra)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if extra != "" {
			if err := os.WriteFile(filepath.Join(d, extra), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := removeStateDir(d, true); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists (%v)", d, err)
		}
	}
	if got := inode(t, filepath.Join(root, spareDir)); got != ino {
		t.Errorf("spare directory is inode %d, want still %d", got, ino)
	}
	if left, err := os.ReadDir(filepath.Join(root, spareDir)); err != nil || len(left) != 0 {
		t.Errorf("spare directory: %v, %v; want it empty", left, err)
	}
}

// A command that opened a container's state directory and waited for its
// lock while the container was deleted, and its directory kept and taken
// by another container, does not get that container's lock.
func TestLockDirRefusesARecycledDirectory(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a")
	if err := makeStateDir(root, a); err != nil {
		t.Fatal(err)
	}
	holder, err := lockDir(a)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		l, err := lockDir(a)
		if err == nil {
			l.Close()
		}
		done <- err
	}()
	// Until the waiter has the directory open.
	for opened := false; !opened; {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); target == a && e.Name() != strconv.Itoa(int(holder)) {
				opened = true
			}
		}
		runtime.Gosched()
	}
	// a is deleted and kept; b takes it; a is a container again, a new
	// directory.
	if err := removeStateDir(a, true); err != nil {
		t.Fatal(err)
	}
	if err := makeStateDir(root, filepath.Join(root, "b")); err != nil {
		t.Fatal(err)
	}
	if err := makeStateDir(root, a); err != nil {
		t.Fatal(err)
	}
	holder.Close()
	if err := <-done; !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lockDir of a directory replaced while it waited: %v, want not-exist", err)
	}
}
