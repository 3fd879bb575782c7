package libcontainer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/husk-runtime/husk/internal/rawfile"
	"github.com/husk-runtime/husk/libcontainer/configs"
	"golang.org/x/sys/unix"
)

const (
	stateFile  = "state"
	configFile = "config"
	fifoName   = "exec.fifo"
	// legacyStateFile and legacyConfigFile are the JSON files of husk
	// before the binary ones (statecodec.go); read when the new ones are
	// missing, so that containers created by an older husk can still be
	// managed after an upgrade.
	legacyStateFile  = "state.json"
	legacyConfigFile = "config.json"
)

// persistedState is the content of <root>/<id>/state (statecodec.go). It is
// written once at the end of create (atomically, by rename) and read by
// every later command; the live status is derived, never stored.
//
// Config in the state is the light part of the container's config (see
// lightConfig): after create only exec needs more (the seccomp profile),
// from the config file, which holds the whole config.
type persistedState struct {
	ID  string `json:"id"`
	Pid int    `json:"init_pid"`
	// StartTime is field 22 of /proc/<pid>/stat when the container started:
	// a PID reused by another process after the container died has a
	// different start time, so it is never mistaken for the container.
	StartTime uint64          `json:"init_start_time"`
	Created   time.Time       `json:"created"`
	Owner     string          `json:"owner"`
	Config    *configs.Config `json:"config"`
	// HasSeccomp says the config file has a seccomp profile (exec needs
	// it).
	HasSeccomp bool `json:"has_seccomp,omitempty"`
	// CgroupLayout is what the cgroup manager learnt from the host at
	// create (manager.Layout), so that later commands skip it.
	CgroupLayout []byte `json:"cgroup_layout,omitempty"`
	// fast is what cmd/husk's C fast path reads at the front of the state
	// file (see fastRecord); nil in a state file of an older husk, which
	// the fast path leaves to Go.
	fast *fastRecord
}

// public returns the state as `husk state` shows it, with the live
// status st and pid (0 once stopped).
func (s *persistedState) public(st Status, pid int) *State {
	cfg := s.Config
	return &State{
		Version:     cfg.Version,
		ID:          s.ID,
		Pid:         pid,
		Status:      st,
		Bundle:      cfg.Bundle,
		Rootfs:      cfg.Rootfs,
		Created:     s.Created,
		Annotations: cfg.Annotations,
		Owner:       s.Owner,
	}
}

// lightConfig returns cfg without what no command needs after create:
// mounts, devices, masked and readonly paths, sysctls, ID mappings, time
// offsets, cgroup resources and the seccomp profile.
func lightConfig(cfg *configs.Config) *configs.Config {
	l := *cfg
	l.Mounts, l.Devices = nil, nil
	l.MaskedPaths, l.ReadonlyPaths, l.Sysctl = nil, nil, nil
	l.UIDMappings, l.GIDMappings, l.TimeOffsets = nil, nil, nil
	l.Seccomp = nil
	if cfg.Cgroup != nil {
		cg := *cfg.Cgroup
		cg.Resources = nil
		l.Cgroup = &cg
	}
	return &l
}

// validateID applies runc's rules for container IDs (`^[\w+\-.]+$`, not
// "." or ".."), so that an ID is always a single safe path element. A loop,
// not a regexp: compiling one would cost every husk process at start-up.
func validateID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	ok := id != "." && id != ".." && len(id) <= 1024
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '+' || c == '-' || c == '.'
	}
	if !ok {
		return fmt.Errorf("invalid container id %q: only letters, digits, '_', '+', '-' and '.' are allowed", id)
	}
	return nil
}

// spareDir is the name, in the state root, of the state directory the
// last delete emptied and kept for the next create (see makeStateDir);
// ':' is in no container ID, so no command takes it for a container.
//
// On a file system where a directory's data block is allocated when it is
// made and freed, and discarded, when it goes (ext4; the test machine's is
// mounted without a journal and with `discard`, where that free waits
// ~0.13 ms for the disk, and files are slower to create in a new
// directory), making and removing a directory per container cost ~0.5 ms
// of each `run`; renaming one costs ~0.02 ms.
const spareDir = ":spare"

// makeStateDir makes dir, the state directory of a new container under
// root: the spare one, renamed (never over an existing directory: the ID
// is then taken), or a new one. Errors are mkdir(2)'s.
func makeStateDir(root, dir string) error {
	switch err := unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, spareDir), unix.AT_FDCWD, dir, unix.RENAME_NOREPLACE); err {
	case nil:
		return nil
	case unix.EEXIST:
		return err
	}
	return unix.Mkdir(dir, 0o700)
}

// removeStateDir removes a container's state directory: the files husk
// keeps there, then the directory, which os.RemoveAll does with a dozen
// calls more (it opens and lists the directory). Anything else found in it
// is left to os.RemoveAll. With keep, an emptied directory becomes the
// root's spare one when there is none yet (see spareDir).
func removeStateDir(dir string, keep bool) error {
	clean := true
	for _, name := range []string{stateFile, configFile, fifoName} {
		if err := unix.Unlink(filepath.Join(dir, name)); err != nil && err != unix.ENOENT {
			clean = false
			break
		}
	}
	if keep && clean && emptyDir(dir) &&
		unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, filepath.Join(filepath.Dir(dir), spareDir), unix.RENAME_NOREPLACE) == nil {
		return nil
	}
	switch err := unix.Rmdir(dir); err {
	case nil, unix.ENOENT:
		return nil
	}
	return os.RemoveAll(dir)
}

// emptyDir says whether dir has no entries (and can be read).
func emptyDir(dir string) bool {
	names, err := rawfile.ReadDirNames(dir)
	return err == nil && len(names) == 0
}

// save writes the config file (the whole config) and then the state file
// (with the light config), the commit point of create.
func (s *persistedState) save(dir string) error {
	tmp, err := s.prepare(dir)
	if err != nil {
		return err
	}
	return commitState(dir, tmp)
}

// prepare writes the config file and stages the state file (see
// rawfile.Stage), for commitState: create does this part while the container's
// process sets itself up, so that committing is one rename(2) (on the test
// machine's ext4 creating and writing a file takes 0.05 to 0.4 ms).
func (s *persistedState) prepare(dir string) (string, error) {
	if err := rawfile.WriteAtomic(filepath.Join(dir, configFile), encodeFullConfig(s.Config), 0o600); err != nil {
		return "", err
	}
	light := *s
	light.Config = lightConfig(s.Config)
	return rawfile.Stage(filepath.Join(dir, stateFile), encodeState(&light), 0o600)
}

// commitState puts the state file prepare staged (tmp) in place, which
// makes the container exist for other commands.
func commitState(dir, tmp string) error {
	return rawfile.Commit(tmp, filepath.Join(dir, stateFile))
}

// loadConfig reads the whole config that create saved in dir.
func loadConfig(dir string) (*configs.Config, error) {
	path := filepath.Join(dir, configFile)
	b, err := rawfile.ReadWhole(path, 4096)
	if errors.Is(err, fs.ErrNotExist) {
		// An older husk's JSON config.json.
		path = filepath.Join(dir, legacyConfigFile)
		if b, err = os.ReadFile(path); err != nil {
			return nil, err
		}
		var cfg configs.Config
		if err := json.Unmarshal(b, &cfg); err != nil {
			return nil, describeStateErr(path, err)
		}
		return &cfg, nil
	}
	if err != nil {
		return nil, err
	}
	cfg, err := decodeFullConfig(b)
	if err != nil {
		return nil, describeStateErr(path, err)
	}
	return cfg, nil
}

func loadState(dir string) (*persistedState, error) {
	path := filepath.Join(dir, stateFile)
	// A default config's state is ~1.3 KiB: one read.
	b, err := rawfile.ReadWhole(path, 4096)
	if errors.Is(err, fs.ErrNotExist) {
		return loadLegacyState(dir, err)
	}
	if err != nil {
		return nil, err
	}
	s, err := decodeState(b)
	if err != nil {
		return nil, describeStateErr(path, err)
	}
	return s, nil
}

// loadLegacyState reads the JSON state.json of an older husk; notFound is
// the error to return when there is none either.
func loadLegacyState(dir string, notFound error) (*persistedState, error) {
	path := filepath.Join(dir, legacyStateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	var s persistedState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, describeStateErr(path, err)
	}
	return &s, nil
}

// hasState reports whether dir holds a container's state (of this husk or
// an older one).
func hasState(dir string) bool {
	for _, name := range []string{stateFile, legacyStateFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// lockDir takes an exclusive flock on the container's state directory; it
// serialises commands on the same container. The lock is released when it
// is closed (or the process exits).
func lockDir(dir string) (dirLock, error) {
	fd, err := rawfile.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("lock %s: %w", dir, err)
	}
	// The directory may have gone while the lock was awaited: deleted,
	// or kept as the spare and already another container's (makeStateDir).
	var held, named unix.Stat_t
	if unix.Fstat(fd, &held) != nil || unix.Stat(dir, &named) != nil || held.Ino != named.Ino || held.Dev != named.Dev {
		unix.Close(fd)
		return -1, &os.PathError{Op: "lock", Path: dir, Err: unix.ENOENT}
	}
	return dirLock(fd), nil
}

// dirLock is the open state directory whose flock lockDir holds.
type dirLock int

// Close releases the lock.
func (l dirLock) Close() error { return unix.Close(int(l)) }

// userName returns the name /etc/passwd gives uid, else "#<uid>", as
// runc's list does (and without os/user, which reads the file through
// os.Open and bufio).
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if b, err := rawfile.ReadFile("/etc/passwd"); err == nil {
		for line := range bytes.SplitSeq(b, []byte{'\n'}) {
			f := bytes.SplitN(line, []byte{':'}, 4)
			if len(f) >= 3 && string(f[2]) == id {
				return string(f[0])
			}
		}
	}
	return "#" + id
}

// procStartTime returns the start time (in clock ticks since boot) of pid
// from /proc/<pid>/stat, and whether the process is a zombie.
func procStartTime(pid int) (uint64, bool, error) {
	b, err := rawfile.ReadWhole("/proc/"+strconv.Itoa(pid)+"/stat", 512)
	if err != nil {
		return 0, false, err
	}
	// The command name (field 2) may contain spaces and parentheses: the
	// fields after it start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); field 22 is fields[19].
	if len(fields) < 20 {
		return 0, false, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	st, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	zombie := len(fields[0]) > 0 && (fields[0][0] == 'Z' || fields[0][0] == 'X')
	return st, zombie, nil
}
