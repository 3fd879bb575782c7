package fs

import (
	"errors"
	"fmt"
	"time"

	"github.com/husk-runtime/husk/cgroups"
	"github.com/husk-runtime/husk/cgroups/internal/cgfile"
)

// freezeTimeout bounds how long Freeze waits for every task to stop.
const freezeTimeout = 2 * time.Second

// Freeze freezes (Frozen) or thaws (Thawed) every task of the cgroup.
//
// The v1 freezer stops tasks asynchronously: freezer.state reads FREEZING
// until the last one is stopped, and v1 has no notification for the
// change, so this polls with a short back-off. A task forked while the
// cgroup is FREEZING can leave it stuck there, so FROZEN is written again
// on every round, as the kernel documentation suggests. If the freeze
// does not complete in time the cgroup is thawed again, so a failed
// pause does not leave a half-frozen container behind.
func (m *Manager) Freeze(state cgroups.FreezerState) error {
	dir, ok := m.bySubsystem["freezer"]
	if !ok {
		return errors.New("freeze: the freezer cgroup hierarchy is not mounted")
	}
	switch state {
	case cgroups.Thawed:
		return cgfile.Write(dir, "freezer.state", string(cgroups.Thawed))
	case cgroups.Frozen:
	default:
		return fmt.Errorf("freeze: invalid freezer state %q", state)
	}
	deadline := time.Now().Add(freezeTimeout)
	delay := 50 * time.Microsecond
	for {
		if err := cgfile.Write(dir, "freezer.state", string(cgroups.Frozen)); err != nil {
			return err
		}
		s, err := cgfile.ReadTrim(dir, "freezer.state")
		if err != nil {
			return err
		}
		if s == string(cgroups.Frozen) {
			return nil
		}
		if time.Now().After(deadline) {
			if err := cgfile.Write(dir, "freezer.state", string(cgroups.Thawed)); err != nil {
				return fmt.Errorf("freeze %s: still %s after %v; thaw: %w", dir, s, freezeTimeout, err)
			}
			return fmt.Errorf("freeze %s: still %s after %v", dir, s, freezeTimeout)
		}
		time.Sleep(delay)
		if delay < 10*time.Millisecond {
			delay *= 2
		}
	}
}
