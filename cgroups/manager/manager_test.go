package manager

import (
	"strings"
	"testing"

	"github.com/husk-runtime/husk/cgroups/fs"
	"github.com/husk-runtime/husk/cgroups/fs2"
	"github.com/husk-runtime/husk/libcontainer/configs"
)

func TestNewRejectsSystemdAndRelativePaths(t *testing.T) {
	_, err := New(&configs.Cgroup{Path: "/husk/x", Systemd: true})
	if err == nil || err.Error() != "systemd cgroup driver is not supported yet (--systemd-cgroup)" {
		t.Errorf("systemd: err = %v", err)
	}
	for _, p := range []string{"", "husk/x"} {
		m, err := New(&configs.Cgroup{Path: p})
		if err == nil || !strings.Contains(err.Error(), "not absolute") {
			t.Errorf("path %q: err = %v", p, err)
		}
		if m != nil {
			t.Errorf("path %q: manager %#v returned with the error", p, m)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("nil config accepted")
	}
}

func TestNewPicksTheHostsDriver(t *testing.T) {
	v2, err := IsCgroup2UnifiedMode()
	if err != nil {
		t.Skipf("cannot tell the cgroup mode: %v", err)
	}
	m, err := New(&configs.Cgroup{Path: "/husk/../husk/x"})
	if err != nil {
		t.Fatal(err)
	}
	switch m.(type) {
	case *fs2.Manager:
		if !v2 {
			t.Error("fs2 driver on a v1 host")
		}
	case *fs.Manager:
		if v2 {
			t.Error("fs driver on a v2 host")
		}
		if got := m.Path("pids"); got != "" && got != "/sys/fs/cgroup/pids/husk/x" {
			t.Errorf("Path(pids) = %q for an unclean path", got)
		}
	default:
		t.Errorf("unexpected driver %T", m)
	}
}
