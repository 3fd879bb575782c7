package caps

// Init-side code: runs in the container's init on the locked thread that
// will execve the container process.

import (
	"errors"
	"fmt"

	"github.com/husk-runtime/husk/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// DropBoundingSet removes from the calling thread's bounding set every
// capability up to Last() that is not in keep. It needs CAP_SETPCAP, so it
// must run before the UID change. A capability the kernel does not know
// (EINVAL) is skipped: the table may be newer than the kernel.
func DropBoundingSet(keep []int) error {
	var keepSet [64]bool
	for _, c := range keep {
		if c >= 0 && c < len(keepSet) {
			keepSet[c] = true
		}
	}
	last := Last()
	for c := 0; c <= last && c < len(keepSet); c++ {
		if keepSet[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EINVAL) {
				continue
			}
			return fmt.Errorf("drop %s from bounding set: %w", Name(c), err)
		}
	}
	return nil
}

// Apply sets the calling thread's effective, permitted and inheritable
// capabilities to exactly those in c (nil c, like a nil set, means none),
// then replaces the ambient set with c.Ambient.
//
// The kernel only allows raising an ambient capability that is both
// permitted and inheritable, so every ambient capability must also be
// listed in c.Permitted and c.Inheritable; otherwise Apply fails naming it.
// Likewise an effective capability must be permitted.
func Apply(c *configs.Capabilities) error {
	if c == nil {
		c = &configs.Capabilities{}
	}
	eff, err := mask(c.Effective)
	if err != nil {
		return err
	}
	perm, err := mask(c.Permitted)
	if err != nil {
		return err
	}
	inh, err := mask(c.Inheritable)
	if err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	// Version 3 takes two 32-bit words per set: capabilities 0-31, 32-63.
	var data [2]unix.CapUserData
	for i := range data {
		data[i] = unix.CapUserData{Effective: eff[i], Permitted: perm[i], Inheritable: inh[i]}
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset (effective %v, permitted %v, inheritable %v): %w",
			nameList(c.Effective), nameList(c.Permitted), nameList(c.Inheritable), err)
	}

	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		// Kernels before 4.3 have no ambient set (EINVAL); that only
		// matters if ambient capabilities were asked for.
		if !errors.Is(err, unix.EINVAL) || len(c.Ambient) > 0 {
			return fmt.Errorf("clear ambient capabilities: %w", err)
		}
	}
	for _, n := range c.Ambient {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(n), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %s (must be permitted and inheritable): %w", Name(n), err)
		}
	}
	return nil
}

// mask returns the capability set cs as the two 32-bit words capset takes.
func mask(cs []int) ([2]uint32, error) {
	var m [2]uint32
	for _, n := range cs {
		if n < 0 || n >= 64 {
			return m, fmt.Errorf("capability %d out of range", n)
		}
		m[n/32] |= 1 << uint(n%32)
	}
	return m, nil
}

// nameList names the capabilities in cs, for error messages.
func nameList(cs []int) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = Name(c)
	}
	return out
}

// KeepCapsOnUIDChange sets PR_SET_KEEPCAPS so that the permitted set
// survives the change from uid 0 to the container user's uid.
func KeepCapsOnUIDChange() error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_KEEPCAPS 1: %w", err)
	}
	return nil
}

// ClearKeepCaps clears PR_SET_KEEPCAPS after the UID change, so the
// container process does not inherit it.
func ClearKeepCaps() error {
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_KEEPCAPS 0: %w", err)
	}
	return nil
}
