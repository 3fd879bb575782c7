package inithelper

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Sealed's copy (made here, not ahead: no constructor asked for one) is
// the helper, an ELF program, sealed against every change.
func TestSealedCopy(t *testing.T) {
	fd, ahead, err := Sealed()
	if !Present() {
		if !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("a build without the helper: Sealed() = %d, %v; want ENOENT", fd, err)
		}
		t.Skip("this build has no husk-init (make builds it)")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if !ahead.Start.IsZero() {
		t.Errorf("copy made ahead in a test binary, at %v", ahead.Start)
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if seals&want != want {
		t.Errorf("seals %#x, want %#x", seals, want)
	}
	var head [4]byte
	if _, err := unix.Pread(fd, head[:], 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(head[:], []byte("\x7fELF")) {
		t.Errorf("copy starts with %q, not an ELF header", head)
	}
	if _, err := unix.Pwrite(fd, []byte("x"), 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("write to the sealed copy: %v, want EPERM", err)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("copy's fd flags %#x (%v): want close-on-exec", flags, err)
	}
}
