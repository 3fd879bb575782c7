// Package cgfile holds the file operations both cgroup drivers share:
// writing and reading control files with errors that name the file and the
// value, creating and removing cgroup directories, and listing PIDs.
//
// It uses raw open/read/write so that a control-file write is exactly three
// system calls: this runs for every container start.
package cgfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/rawfile"
)

// Write writes data to dir/file in one write(2), as the kernel expects for
// cgroup control files. The error names the file, the value and the
// kernel's answer: `write /sys/fs/cgroup/memory/x/memory.limit_in_bytes:
// "1024": device or resource busy`.
func Write(dir, file, data string) error {
	f, err := OpenWrite(dir, file)
	if err != nil {
		return &WriteError{Path: dir + "/" + file, Value: data, Err: err}
	}
	defer f.Close()
	return f.Write(data)
}

// File is a control file open for writing, for several writes in a row
// (devices.allow takes one rule per write): one open and one close for all
// of them.
type File struct {
	fd   int
	path string
}

// OpenWrite opens dir/file for writing. The error is the system call's:
// the caller wraps it in a *WriteError, which names the value too.
func OpenWrite(dir, file string) (*File, error) {
	p := dir + "/" + file
	fd, err := open(p, unix.O_WRONLY|unix.O_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &File{fd: fd, path: p}, nil
}

// Write writes data in one write(2); the error is a *WriteError.
func (f *File) Write(data string) error {
	var err error
	for {
		_, err = unix.Write(f.fd, []byte(data))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return &WriteError{Path: f.path, Value: data, Err: err}
	}
	return nil
}

// Close closes the file.
func (f *File) Close() error { return unix.Close(f.fd) }

// WriteError is a failed write to a cgroup control file.
type WriteError struct {
	Path  string
	Value string
	Err   error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("write %s: %q: %v", e.Path, e.Value, e.Err)
}

// Unwrap returns the kernel's error, so errors.Is(err, unix.EBUSY) works.
func (e *WriteError) Unwrap() error { return e.Err }

// Read returns the content of dir/file, a control file whose content the
// kernel makes in one piece (every value and stat file; not cgroup.procs
// or tasks, see AllPids): one read(2) when it fits in 512 bytes.
func Read(dir, file string) (string, error) {
	return read(dir+"/"+file, true)
}

func read(path string, whole bool) (string, error) {
	var b []byte
	var err error
	if whole {
		b, err = rawfile.ReadWhole(path, 512)
	} else {
		b, err = rawfile.ReadFile(path)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Op = "read"
		}
		return "", err
	}
	return string(b), nil
}

// ReadTrim returns the content of dir/file without surrounding white space.
func ReadTrim(dir, file string) (string, error) {
	s, err := Read(dir, file)
	return strings.TrimSpace(s), err
}

func open(p string, flags int) (int, error) {
	for {
		fd, err := unix.Open(p, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// Mkdir creates the cgroup directory dir below the hierarchy's mountpoint
// root, with any missing parents. It returns the directories it created,
// top-down, so a caller can initialise them (cpuset) or know what it owns.
// The common case, an existing parent, costs a single mkdir(2).
func Mkdir(root, dir string) ([]string, error) {
	err := unix.Mkdir(dir, 0o755)
	if err == nil {
		return []string{dir}, nil
	}
	if err == unix.EEXIST {
		return nil, nil
	}
	if err != unix.ENOENT || len(dir) <= len(root) {
		return nil, &os.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	parent := dir[:strings.LastIndexByte(dir, '/')]
	created, err := Mkdir(root, parent)
	if err != nil {
		return nil, err
	}
	if err := unix.Mkdir(dir, 0o755); err != nil && err != unix.EEXIST {
		return created, &os.PathError{Op: "mkdir", Path: dir, Err: err}
	} else if err == nil {
		created = append(created, dir)
	}
	return created, nil
}

// Remove removes the cgroup directory dir and every cgroup below it,
// children first. A missing directory is not an error. rmdir(2) of a cgroup
// fails with EBUSY while tasks are still leaving it (an exiting process
// stays a member until it is reaped), so EBUSY is retried for a short,
// bounded time.
func Remove(dir string) error {
	err := unix.Rmdir(dir)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EBUSY && err != unix.ENOTEMPTY {
		return &os.PathError{Op: "rmdir", Path: dir, Err: err}
	}
	// Sub-cgroups make rmdir fail with EBUSY too: remove them first.
	entries, rerr := os.ReadDir(dir)
	if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return rerr
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := Remove(dir + "/" + e.Name()); err != nil {
				return err
			}
		}
	}
	delay := time.Millisecond
	for i := 0; ; i++ {
		err = unix.Rmdir(dir)
		if err == nil || err == unix.ENOENT {
			return nil
		}
		if err != unix.EBUSY || i == 6 {
			return &os.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		time.Sleep(delay)
		delay *= 2
	}
}

// Pids returns the PIDs listed in dir/cgroup.procs.
func Pids(dir string) ([]int, error) {
	s, err := read(dir+"/cgroup.procs", false)
	if err != nil {
		return nil, err
	}
	return parsePids(s, nil, dir)
}

// AllPids returns the PIDs in dir and in every cgroup below it.
func AllPids(dir string) ([]int, error) {
	return allPids(dir, nil)
}

func allPids(dir string, pids []int) ([]int, error) {
	// A list of PIDs is made one record at a time: a read may end short
	// of the end of it (a page at a time), so it is read to EOF.
	s, err := read(dir+"/cgroup.procs", false)
	if err != nil {
		return nil, err
	}
	if pids, err = parsePids(s, pids, dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			if pids, err = allPids(dir+"/"+e.Name(), pids); err != nil {
				return nil, err
			}
		}
	}
	return pids, nil
}

func parsePids(s string, pids []int, dir string) ([]int, error) {
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("parse %s/cgroup.procs: %w", dir, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// Int formats a limit the way cgroup files take it.
func Int(v int64) string { return strconv.FormatInt(v, 10) }

// Uint formats an unsigned limit the way cgroup files take it.
func Uint(v uint64) string { return strconv.FormatUint(v, 10) }

// CheckHugePageSize rejects a runtime-spec page size ("2MB", "1GB",
// "64KB") that is not a number and a unit, so it cannot escape the control
// file name it is spliced into (hugetlb.<size>.limit_in_bytes).
func CheckHugePageSize(size string) error {
	if len(size) < 3 || !strings.HasSuffix(size, "B") {
		return fmt.Errorf("invalid hugepage size %q", size)
	}
	num, unit := size[:len(size)-2], size[len(size)-2]
	if unit != 'K' && unit != 'M' && unit != 'G' {
		return fmt.Errorf("invalid hugepage size %q", size)
	}
	if _, err := strconv.ParseUint(num, 10, 32); err != nil {
		return fmt.Errorf("invalid hugepage size %q", size)
	}
	return nil
}

// EnableController makes controller ctrl available in dir of the cgroup2
// hierarchy mounted at root by writing "+ctrl" to the cgroup.subtree_control
// of the ancestors that lack it, top-down (the kernel only lets a cgroup
// enable what its parent enabled). It writes only to the ancestors listed
// in owned, the directories the caller created: a cgroup husk did not
// create belongs to whoever set it up (on a hybrid host, the unified root
// belongs to the system), so an existing ancestor that lacks ctrl is an
// error naming the file to change. The common case, a parent that already
// enables ctrl, costs one read.
func EnableController(root, dir, ctrl string, owned []string) error {
	lacking, err := LackingController(root, dir, ctrl)
	if err != nil || len(lacking) == 0 {
		return err
	}
	var foreign []string
	for _, d := range lacking {
		if !slices.Contains(owned, d) {
			foreign = append(foreign, d)
		}
	}
	if len(foreign) > 0 {
		return ControllerError(ctrl, foreign)
	}
	for _, d := range lacking {
		if err := Write(d, "cgroup.subtree_control", "+"+ctrl); err != nil {
			return err
		}
	}
	return nil
}

// LackingController returns, top-down, the ancestors of dir (root
// included) whose cgroup.subtree_control does not enable ctrl. The walk
// goes up from dir's parent and stops at the first ancestor that enables
// it: above that one, every ancestor must enable it too.
func LackingController(root, dir, ctrl string) ([]string, error) {
	var lacking []string
	for d := dir; d != root && len(d) > len(root); {
		d = d[:strings.LastIndexByte(d, '/')]
		cur, err := Read(d, "cgroup.subtree_control")
		if err != nil {
			return nil, err
		}
		if HasWord(cur, ctrl) {
			break
		}
		lacking = append(lacking, d)
	}
	slices.Reverse(lacking)
	return lacking, nil
}

// ControllerError is the error for a limit that needs controller ctrl
// which the cgroups in dirs (top-down) do not enable for their children
// and husk may not change: it names the files to change, in order.
func ControllerError(ctrl string, dirs []string) error {
	files := make([]string, len(dirs))
	for i, d := range dirs {
		files[i] = d + "/cgroup.subtree_control"
	}
	return fmt.Errorf("%s limits need the %s controller: enable it in %s", ctrl, ctrl, strings.Join(files, ", then in "))
}

// HasWord reports whether the white-space separated list s contains w.
func HasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// CheckUnifiedKey rejects a linux.resources.unified key that is not the
// plain name of a control file ("memory.high"): a "/" or ".." would let a
// config write any file below (or above) the cgroup.
func CheckUnifiedKey(key string) error {
	if key == "" || strings.ContainsRune(key, '/') || strings.HasPrefix(key, ".") || !strings.Contains(key, ".") {
		return fmt.Errorf("invalid unified resource key %q: not a cgroup control file name", key)
	}
	return nil
}

// DeviceRule formats a device cgroup rule as the v1 devices.allow and
// devices.deny files take it ("c 1:3 rwm"), filling in the runtime-spec's
// defaults: all types, any major and minor, "rwm".
func DeviceRule(typ string, major, minor *int64, access string) (string, error) {
	switch typ {
	case "":
		typ = "a"
	case "a", "b", "c":
	default:
		return "", fmt.Errorf("invalid device cgroup type %q", typ)
	}
	if access == "" {
		access = "rwm"
	}
	for _, c := range access {
		if c != 'r' && c != 'w' && c != 'm' {
			return "", fmt.Errorf("invalid device cgroup access %q", access)
		}
	}
	num := func(n *int64) string {
		if n == nil || *n == -1 {
			return "*"
		}
		return strconv.FormatInt(*n, 10)
	}
	return typ + " " + num(major) + ":" + num(minor) + " " + access, nil
}

// SetRdma writes one "<device> hca_handle=N hca_object=M" line per device
// to dir/rdma.max (the same format in v1 and v2).
func SetRdma(dir string, rdma map[string]specs.LinuxRdma) error {
	for dev, l := range rdma {
		if dev == "" || strings.ContainsAny(dev, " \n") {
			return fmt.Errorf("invalid rdma device name %q", dev)
		}
		v := dev
		if l.HcaHandles != nil {
			v += " hca_handle=" + strconv.FormatUint(uint64(*l.HcaHandles), 10)
		}
		if l.HcaObjects != nil {
			v += " hca_object=" + strconv.FormatUint(uint64(*l.HcaObjects), 10)
		}
		if err := Write(dir, "rdma.max", v); err != nil {
			return err
		}
	}
	return nil
}
