package rawfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// WriteAtomic writes data to a temporary file in path's directory and
// renames it over path, so that a reader never sees a partial file. The
// file ends up with exactly mode, whatever the umask. Made with plain
// system calls: os.CreateTemp readies the file for the runtime's poller
// (and creates the poller on first use), eight calls more.
func WriteAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := Stage(path, data, mode)
	if err != nil {
		return err
	}
	return Commit(tmp, path)
}

// Stage writes data with mode into a new temporary file next to path and
// returns its name, for Commit: a caller can write a file early and make
// it appear later with one rename(2). On error nothing is left.
func Stage(path string, data []byte, mode fs.FileMode) (string, error) {
	tmp, fd, err := createTemp(path)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	err = WriteAll(fd, data)
	if err == nil {
		// Exactly mode, whatever the umask.
		err = unix.Fchmod(fd, uint32(mode.Perm()))
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlink(tmp)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return tmp, nil
}

// WriteAll writes b to fd, retrying short writes and EINTR.
func WriteAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// Commit puts the file Stage made (tmp) at path, or removes it on error.
func Commit(tmp, path string) error {
	if err := unix.Rename(tmp, path); err != nil {
		unix.Unlink(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// tempSeq makes the names of a process's temporary files distinct; the
// PID makes them distinct between processes, and O_EXCL makes sure.
var tempSeq atomic.Uint32

// selfPid is this process's PID, asked once: getpid(2) is a system call
// every time in Go.
var selfPid atomic.Int64

// createTemp creates a new file ".<name>-<pid>-<n>" next to path, mode
// 0600, and returns its name and descriptor.
func createTemp(path string) (string, int, error) {
	pid := selfPid.Load()
	if pid == 0 {
		pid = int64(os.Getpid())
		selfPid.Store(pid)
	}
	prefix := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"-"+strconv.FormatInt(pid, 10)+"-")
	for {
		tmp := prefix + strconv.FormatUint(uint64(tempSeq.Add(1)), 10)
		fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		switch err {
		case nil:
			return tmp, fd, nil
		case unix.EEXIST, unix.EINTR:
			continue
		}
		return "", -1, &fs.PathError{Op: "create", Path: tmp, Err: err}
	}
}
