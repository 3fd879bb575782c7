package libcontainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/husk-runtime/husk/internal/rawfile"
	"github.com/husk-runtime/husk/nsenter/inithelper"
	"golang.org/x/sys/unix"
)

// CVE-2019-5736: while a process that husk starts in a container still runs
// husk's binary (before it execs the user's program), a process in the
// container can open /proc/<pid>/exe and, if that is the host's husk binary
// and writable, overwrite it. So the child is never executed from the host
// file itself: it is executed from a read-only view of it.
//
// The cheap view is an overlayfs built with the new mount API and never
// attached to any mount tree: two read-only lower layers (the binary's
// directory and an empty detached tmpfs, because overlayfs wants two lowers
// without an upper) give a file whose writes fail with EROFS, at ~0.15 ms
// whatever the binary's size, and nobody can remount a mount they cannot
// reach. Kernels without it get the old defence, a copy in a sealed memfd
// (~0.6 ms per MB).

var (
	sealOnce sync.Once
	sealFile *os.File
	sealErr  error
)

// sealedExe returns a read-only, unmodifiable file holding husk's own
// binary, to be executed through /proc/self/fd/N. It is made once per
// process and reused.
func sealedExe() (*os.File, error) {
	sealOnce.Do(func() {
		exe, err := os.Readlink("/proc/self/exe")
		if err != nil {
			sealErr = fmt.Errorf("readlink /proc/self/exe: %w", err)
			return
		}
		if f, err := overlaySealed(exe); err == nil {
			sealFile = f
			return
		}
		sealFile, sealErr = memfdSealed()
	})
	return sealFile, sealErr
}

func overlaySealed(exe string) (*os.File, error) {
	tfs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(tfs)
	if err := unix.FsconfigSetString(tfs, "size", "4k"); err != nil {
		return nil, err
	}
	if err := unix.FsconfigCreate(tfs); err != nil {
		return nil, err
	}
	empty, err := unix.Fsmount(tfs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(empty)

	ofs, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(ofs)
	if err := unix.FsconfigSetString(ofs, "lowerdir+", filepath.Dir(exe)); err != nil {
		return nil, err
	}
	if err := unix.FsconfigSetFd(ofs, "lowerdir+", empty); err != nil {
		return nil, err
	}
	if err := unix.FsconfigCreate(ofs); err != nil {
		return nil, err
	}
	mnt, err := unix.Fsmount(ofs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, err
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, filepath.Base(exe), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "husk-sealed-exe"), nil
}

func memfdSealed() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer src.Close()
	fd, err := sealedMemfd("husk-exe", func(fd int) error {
		_, err := io.Copy(fdWriter(fd), src)
		return err
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "husk-exe"), nil
}

// fdWriter writes to a plain file descriptor.
type fdWriter int

func (w fdWriter) Write(b []byte) (int, error) {
	if err := rawfile.WriteAll(int(w), b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// sealedMemfd returns an executable memfd that fill wrote, sealed so that
// nothing can ever change it.
func sealedMemfd(name string, fill func(fd int) error) (int, error) {
	// MFD_EXEC says so explicitly to kernels (6.3+) that also know
	// non-executable memfds; older ones refuse the flag.
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := fill(fd); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("write %s memfd: %w", name, err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("seal memfd: %w", err)
	}
	return fd, nil
}

// sealedHelper returns the fd of husk-init (package inithelper) in a sealed
// memfd, or -1 when this build has no helper or the kernel will not
// execute a memfd (vm.memfd_noexec): the caller then uses sealedExe. A
// process the helper runs never maps husk's binary, and its
// /proc/<pid>/exe is this memfd, which cannot be written (CVE-2019-5736
// does not apply). It is made once; a sync.Once rather than
// sync.OnceValue, which allocates its state at every process start, used
// or not.
func sealedHelper() int {
	sealedHelperOnce.Do(func() {
		fd, ahead, err := inithelper.Sealed()
		if err != nil {
			fd = -1
		}
		sealedHelperFd, sealedHelperAhead = fd, ahead
	})
	return sealedHelperFd
}

var (
	sealedHelperOnce  sync.Once
	sealedHelperFd    int
	sealedHelperAhead inithelper.Ahead // when the husk command's constructor had it made
)

// PrepareSpawn starts making, in the background, what starting a container
// process needs (the sealed copy of the init helper), so that it is ready
// when Create or Exec gets there: a caller calls it as soon as it knows it
// will create or exec, before its own set-up (parsing a config, loading a
// container). Optional; later calls do nothing. In the husk command the
// copy is already being made, by a C thread started before the Go runtime
// (inithelper.SealingAhead): then a goroutine would only wait for it.
func PrepareSpawn() {
	if !inithelper.SealingAhead() {
		go sealedHelper()
	}
}
