package fs

import (
	"reflect"
	"testing"
)

// A Manager rebuilt from its layout is the Manager NewManager made.
func TestLayoutRoundTrip(t *testing.T) {
	m := &Manager{path: "/husk/c1", bySubsystem: map[string]string{}}
	cpu := &hierarchy{mountpoint: "/sys/fs/cgroup/cpu,cpuacct", root: "/", subsystems: []string{"cpu", "cpuacct"}}
	sysd := &hierarchy{mountpoint: "/sys/fs/cgroup/systemd", root: "/sub", subsystems: []string{"name=systemd"}}
	uni := &hierarchy{mountpoint: "/sys/fs/cgroup/unified", root: "/"}
	for _, h := range []*hierarchy{cpu, sysd} {
		d := h.dir(m.path)
		m.dirs = append(m.dirs, dirEntry{h: h, dir: d})
		for _, s := range h.subsystems {
			m.bySubsystem[s] = d
		}
	}
	m.unified, m.unifiedDir = uni, uni.dir(m.path)
	m.dirs = append(m.dirs, dirEntry{h: uni, dir: m.unifiedDir})

	got, err := NewManagerFromLayout(m.path, m.AppendLayout(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("rebuilt %+v, want %+v", got, m)
	}
	b := m.AppendLayout(nil)
	for i := 0; i < len(b); i++ {
		if _, err := NewManagerFromLayout(m.path, b[:i]); err == nil {
			t.Fatalf("layout cut at %d of %d bytes: no error", i, len(b))
		}
	}
	if _, err := NewManagerFromLayout("relative", b); err == nil {
		t.Error("a relative cgroup path is accepted")
	}
}
