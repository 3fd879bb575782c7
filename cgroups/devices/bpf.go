package devices

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// progName names husk's device programs (BPF_OBJ_NAME_LEN, 16 bytes with
// the NUL), so an update finds and replaces the program husk attached
// before while leaving other programs on the cgroup alone.
const progName = "husk_devices"

// SetFilter makes the device rules the filter of the cgroup v2 directory
// dir: it loads a BPF_PROG_TYPE_CGROUP_DEVICE program for them, attaches
// it with BPF_F_ALLOW_MULTI and removes the program husk attached there
// before, if any (atomically with BPF_F_REPLACE when there is one).
// Programs attached by others stay; the kernel allows an access only if
// every attached program and every ancestor's program allows it. Rules
// that allow everything need no program: the old one is only removed.
func SetFilter(dir string, rules []specs.LinuxDeviceCgroup) error {
	rs, err := parseRules(rules)
	if err != nil {
		return err
	}
	var prog []insn
	if !allowsAll(rs) {
		if prog, err = compile(rs); err != nil {
			return err
		}
	}
	cg, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(cg)
	old, err := huskPrograms(cg)
	if err != nil {
		return fmt.Errorf("list device programs of %s: %w", dir, err)
	}
	defer closeAll(old)
	if prog != nil {
		fd, err := loadProgram(prog)
		if err != nil {
			return fmt.Errorf("load device program for %s: %w", dir, err)
		}
		defer unix.Close(fd)
		if len(old) == 1 {
			err := attach(unix.BPF_PROG_ATTACH, cg, fd, unix.BPF_F_ALLOW_MULTI|unix.BPF_F_REPLACE, old[0])
			// Kernels before 5.6 have no BPF_F_REPLACE (EINVAL): attach,
			// then detach, as below.
			if err == nil {
				return nil
			}
			if !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("replace device program of %s: %w", dir, err)
			}
		}
		// Both programs are in force until the old one is detached: an
		// access is only allowed if both allow it, so there is no window
		// in which the container could open more than either rule set
		// allows.
		if err := attach(unix.BPF_PROG_ATTACH, cg, fd, unix.BPF_F_ALLOW_MULTI, -1); err != nil {
			return fmt.Errorf("attach device program to %s: %w", dir, err)
		}
	}
	for _, fd := range old {
		if err := attach(unix.BPF_PROG_DETACH, cg, fd, 0, -1); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach old device program from %s: %w", dir, err)
		}
	}
	return nil
}

// bpf is the bpf(2) system call with the attribute struct attr.
func bpf[T any](cmd int, attr *T) (int, error) {
	for try := 0; ; try++ {
		r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
		// The verifier gives up with EAGAIN when a signal arrives.
		if (errno == unix.EINTR || errno == unix.EAGAIN && cmd == unix.BPF_PROG_LOAD) && try < 5 {
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(r), nil
	}
}

// progLoadAttr is the BPF_PROG_LOAD part of union bpf_attr, up to
// prog_name.
type progLoadAttr struct {
	progType    uint32
	insnCnt     uint32
	insns       ptr64
	license     ptr64
	logLevel    uint32
	logSize     uint32
	logBuf      ptr64
	kernVersion uint32
	progFlags   uint32
	progName    [unix.BPF_OBJ_NAME_LEN]byte
}

// license is the program's license string: no GPL-only helper is called,
// so any license loads.
var license = []byte("Apache-2.0\x00")

// loadProgram loads prog and returns its fd. On a rejection the load is
// repeated with the verifier's log, which the error then ends with.
func loadProgram(prog []insn) (int, error) {
	attr := progLoadAttr{
		progType: unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		insnCnt:  uint32(len(prog)),
		insns:    ptr64{p: unsafe.Pointer(&prog[0])},
		license:  ptr64{p: unsafe.Pointer(&license[0])},
	}
	copy(attr.progName[:], progName)
	fd, err := bpf(unix.BPF_PROG_LOAD, &attr)
	if err == unix.EPERM {
		// Before Linux 5.11, BPF memory counts against RLIMIT_MEMLOCK,
		// which is 64 KiB on many systems.
		lim := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim) == nil {
			fd, err = bpf(unix.BPF_PROG_LOAD, &attr)
		}
	}
	if err == unix.EINVAL || err == unix.EACCES {
		log := make([]byte, 64<<10)
		attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), ptr64{p: unsafe.Pointer(&log[0])}
		fd2, err2 := bpf(unix.BPF_PROG_LOAD, &attr)
		runtime.KeepAlive(log)
		if err2 == nil {
			fd, err = fd2, nil
		} else if n := indexByte(log, 0); n > 0 {
			return -1, fmt.Errorf("bpf prog load: %w: verifier: %s", err, log[:n])
		}
	}
	runtime.KeepAlive(prog)
	if err != nil {
		return -1, os.NewSyscallError("bpf prog load", err)
	}
	return fd, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return len(b)
}

// attachAttr is the BPF_PROG_ATTACH and BPF_PROG_DETACH part of union
// bpf_attr, up to replace_bpf_fd.
type attachAttr struct {
	targetFD     uint32
	attachBpfFD  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFD uint32
}

// attach attaches (cmd BPF_PROG_ATTACH) or detaches (BPF_PROG_DETACH) the
// program prog to or from the cgroup cg as its device program. replace
// is the fd of the program BPF_F_REPLACE replaces, or -1.
func attach(cmd, cg, prog int, flags uint32, replace int) error {
	attr := attachAttr{
		targetFD:    uint32(cg),
		attachBpfFD: uint32(prog),
		attachType:  unix.BPF_CGROUP_DEVICE,
		attachFlags: flags,
	}
	if replace >= 0 {
		attr.replaceBpfFD = uint32(replace)
	}
	_, err := bpf(cmd, &attr)
	return err
}

// queryAttr is the BPF_PROG_QUERY part of union bpf_attr, up to prog_cnt.
type queryAttr struct {
	targetFD    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     ptr64
	progCnt     uint32
	_           uint32
}

// attachedIDs returns the IDs of the device programs attached to the
// cgroup cg itself (not those inherited from its ancestors).
func attachedIDs(cg int) ([]uint32, error) {
	ids := make([]uint32, 16)
	for {
		attr := queryAttr{
			targetFD:   uint32(cg),
			attachType: unix.BPF_CGROUP_DEVICE,
			progIDs:    ptr64{p: unsafe.Pointer(&ids[0])},
			progCnt:    uint32(len(ids)),
		}
		_, err := bpf(unix.BPF_PROG_QUERY, &attr)
		if err == unix.ENOSPC && int(attr.progCnt) > len(ids) {
			ids = make([]uint32, attr.progCnt)
			continue
		}
		if err != nil {
			return nil, os.NewSyscallError("bpf prog query", err)
		}
		return ids[:attr.progCnt], nil
	}
}

// getFDAttr is the BPF_PROG_GET_FD_BY_ID part of union bpf_attr.
type getFDAttr struct {
	id        uint32
	nextID    uint32
	openFlags uint32
}

// infoAttr is the BPF_OBJ_GET_INFO_BY_FD part of union bpf_attr.
type infoAttr struct {
	bpfFD   uint32
	infoLen uint32
	info    ptr64
}

// progInfo is struct bpf_prog_info up to name; the kernel fills in only
// as much as the caller's info_len asks for.
type progInfo struct {
	progType     uint32
	id           uint32
	tag          [8]byte
	jitedLen     uint32
	xlatedLen    uint32
	jitedInsns   uint64
	xlatedInsns  uint64
	loadTime     uint64
	createdByUID uint32
	nrMapIDs     uint32
	mapIDs       uint64
	name         [unix.BPF_OBJ_NAME_LEN]byte
}

// huskPrograms returns fds of the device programs attached to the cgroup
// cg that husk attached (named progName). The caller closes them.
func huskPrograms(cg int) ([]int, error) {
	ids, err := attachedIDs(cg)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, id := range ids {
		fd, err := bpf(unix.BPF_PROG_GET_FD_BY_ID, &getFDAttr{id: id})
		if err == unix.ENOENT {
			// Detached and freed since the query.
			continue
		}
		if err != nil {
			closeAll(fds)
			return nil, os.NewSyscallError("bpf prog get fd by id", err)
		}
		info := new(progInfo)
		_, err = bpf(unix.BPF_OBJ_GET_INFO_BY_FD, &infoAttr{bpfFD: uint32(fd), infoLen: uint32(unsafe.Sizeof(*info)), info: ptr64{p: unsafe.Pointer(info)}})
		if err != nil {
			unix.Close(fd)
			closeAll(fds)
			return nil, os.NewSyscallError("bpf obj get info by fd", err)
		}
		if string(info.name[:indexByte(info.name[:], 0)]) != progName {
			unix.Close(fd)
			continue
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
