// Package caps names Linux capabilities and applies capability sets to the
// calling thread.
//
// The name table is the single source used by specconv (parsing the spec),
// validation and "husk features", so they cannot drift apart.
//
// The application half runs in the container's init, on one locked OS
// thread, just before execve. Capability sets, the bounding set, the ambient
// set and the keep-caps flag are all per-thread kernel state, so every call
// below must run on the thread that later calls execve. The caller's order
// is:
//
//	DropBoundingSet(bounding)    // needs CAP_SETPCAP, so before losing it
//	KeepCapsOnUIDChange()        // otherwise setresuid to non-root clears permitted
//	setgroups / setresgid / setresuid
//	ClearKeepCaps()              // the container process must not inherit it
//	Apply(caps)                  // effective/permitted/inheritable, then ambient
//
// Apply after the UID change because a change from uid 0 to non-zero clears
// the effective set even with keep-caps; Apply restores it from permitted.
package caps

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// maxKnown is the highest capability number in names. Capabilities are
// numbered densely from 0, so names is indexed by number.
const maxKnown = unix.CAP_CHECKPOINT_RESTORE

// names holds every capability husk knows: names[n] is the runtime-spec
// name ("CAP_" prefixed) of the kernel's capability n. It is the one table
// Parse, Name and Names read. An array, not a map from name to number: a
// map literal is built by code at every process start, this is laid out
// by the compiler, and Parse's linear search over 41 names costs less.
var names = [maxKnown + 1]string{
	unix.CAP_CHOWN:              "CAP_CHOWN",
	unix.CAP_DAC_OVERRIDE:       "CAP_DAC_OVERRIDE",
	unix.CAP_DAC_READ_SEARCH:    "CAP_DAC_READ_SEARCH",
	unix.CAP_FOWNER:             "CAP_FOWNER",
	unix.CAP_FSETID:             "CAP_FSETID",
	unix.CAP_KILL:               "CAP_KILL",
	unix.CAP_SETGID:             "CAP_SETGID",
	unix.CAP_SETUID:             "CAP_SETUID",
	unix.CAP_SETPCAP:            "CAP_SETPCAP",
	unix.CAP_LINUX_IMMUTABLE:    "CAP_LINUX_IMMUTABLE",
	unix.CAP_NET_BIND_SERVICE:   "CAP_NET_BIND_SERVICE",
	unix.CAP_NET_BROADCAST:      "CAP_NET_BROADCAST",
	unix.CAP_NET_ADMIN:          "CAP_NET_ADMIN",
	unix.CAP_NET_RAW:            "CAP_NET_RAW",
	unix.CAP_IPC_LOCK:           "CAP_IPC_LOCK",
	unix.CAP_IPC_OWNER:          "CAP_IPC_OWNER",
	unix.CAP_SYS_MODULE:         "CAP_SYS_MODULE",
	unix.CAP_SYS_RAWIO:          "CAP_SYS_RAWIO",
	unix.CAP_SYS_CHROOT:         "CAP_SYS_CHROOT",
	unix.CAP_SYS_PTRACE:         "CAP_SYS_PTRACE",
	unix.CAP_SYS_PACCT:          "CAP_SYS_PACCT",
	unix.CAP_SYS_ADMIN:          "CAP_SYS_ADMIN",
	unix.CAP_SYS_BOOT:           "CAP_SYS_BOOT",
	unix.CAP_SYS_NICE:           "CAP_SYS_NICE",
	unix.CAP_SYS_RESOURCE:       "CAP_SYS_RESOURCE",
	unix.CAP_SYS_TIME:           "CAP_SYS_TIME",
	unix.CAP_SYS_TTY_CONFIG:     "CAP_SYS_TTY_CONFIG",
	unix.CAP_MKNOD:              "CAP_MKNOD",
	unix.CAP_LEASE:              "CAP_LEASE",
	unix.CAP_AUDIT_WRITE:        "CAP_AUDIT_WRITE",
	unix.CAP_AUDIT_CONTROL:      "CAP_AUDIT_CONTROL",
	unix.CAP_SETFCAP:            "CAP_SETFCAP",
	unix.CAP_MAC_OVERRIDE:       "CAP_MAC_OVERRIDE",
	unix.CAP_MAC_ADMIN:          "CAP_MAC_ADMIN",
	unix.CAP_SYSLOG:             "CAP_SYSLOG",
	unix.CAP_WAKE_ALARM:         "CAP_WAKE_ALARM",
	unix.CAP_BLOCK_SUSPEND:      "CAP_BLOCK_SUSPEND",
	unix.CAP_AUDIT_READ:         "CAP_AUDIT_READ",
	unix.CAP_PERFMON:            "CAP_PERFMON",
	unix.CAP_BPF:                "CAP_BPF",
	unix.CAP_CHECKPOINT_RESTORE: "CAP_CHECKPOINT_RESTORE",
}

// Parse returns the number of the capability called name, which must be the
// exact runtime-spec name such as "CAP_NET_ADMIN".
func Parse(name string) (int, error) {
	for c, n := range names[:] {
		if n == name {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// Name returns the runtime-spec name of capability c, or "CAP_<c>" for a
// number the table does not know (a newer kernel's capability).
func Name(c int) string {
	if c >= 0 && c <= maxKnown {
		return names[c]
	}
	return "CAP_" + strconv.Itoa(c)
}

// Names returns every known capability name, sorted by capability number.
func Names() []string {
	out := make([]string, len(names))
	copy(out, names[:])
	return out
}

var (
	lastOnce sync.Once
	lastCap  int
)

// Last returns the highest capability number the running kernel knows,
// from /proc/sys/kernel/cap_last_cap. It is read once and cached; when the
// file cannot be read (no /proc yet, or a kernel too old to have it) the
// table's highest number is used.
func Last() int {
	lastOnce.Do(func() {
		lastCap = maxKnown
		b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
		if err != nil {
			return
		}
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 {
			lastCap = n
		}
	})
	return lastCap
}
