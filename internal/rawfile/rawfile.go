// Package rawfile reads small files and directories with plain system
// calls.
//
// os.Open readies every file for the runtime's network poller: for a
// regular file, a directory or a /proc file that is two fcntl(2) calls to
// set O_NONBLOCK, an epoll_ctl(2) that fails, and two more fcntl(2) calls
// to clear O_NONBLOCK again; the first open of a process also creates the
// poller (epoll_create1, an eventfd). husk reads a few small files in every
// command (its state, /proc/<pid>/stat, config.json); here each is open,
// read and close only. Errors are *fs.PathError, as the os package's are,
// so errors.Is(err, fs.ErrNotExist) works the same.
package rawfile

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// ReadFile returns the content of the file at path, as os.ReadFile does.
func ReadFile(path string) ([]byte, error) {
	return ReadFileSize(path, 512)
}

// ReadFileSize is ReadFile with a first buffer of size bytes, for files
// whose size stat does not give (procfs reports 0) but the caller can
// guess: fewer reads and copies.
func ReadFileSize(path string, size int) ([]byte, error) {
	return readFile(path, size, false)
}

// ReadWhole is ReadFileSize for a file that one read returns whole, up to
// the space it is given: a regular file on a local file system (husk's
// own state files), or a kernel file produced in one piece (a cgroup or
// sysfs attribute, /proc/<pid>/stat). A read that returns less than it
// was asked for is then the end of the file, and the extra read that
// would only return 0 is skipped. Not for files whose reads may stop
// short of the end: multi-record /proc files such as mountinfo (one page
// per read), pipes, network or FUSE file systems.
func ReadWhole(path string, size int) ([]byte, error) {
	return readFile(path, size, true)
}

func readFile(path string, size int, shortIsEOF bool) ([]byte, error) {
	fd, err := open(path, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, max(size, 1))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		want := cap(buf) - len(buf)
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		buf = buf[:len(buf)+n]
		if n == 0 || shortIsEOF && n < want {
			return buf, nil
		}
	}
}

// ReadDirNames returns the names in the directory at path, without "." and
// "..", in the order the file system gives them.
func ReadDirNames(path string) ([]string, error) {
	fd, err := open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var names []string
	var buf [4096]byte
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "readdirent", Path: path, Err: err}
		}
		if n == 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// Open opens path with flags (O_CLOEXEC is added) and returns the file
// descriptor, retrying on EINTR.
func Open(path string, flags int) (int, error) {
	fd, err := open(path, flags|unix.O_CLOEXEC)
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

func open(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
