package main

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

func TestParseUser(t *testing.T) {
	for _, tc := range []struct {
		in       string
		uid, gid uint32
		err      string
	}{
		{"1000", 1000, 7, ""},
		{"1000:1001", 1000, 1001, ""},
		{"0:0", 0, 0, ""},
		{"root", 0, 0, `uid "root"`},
		{"1000:wheel", 0, 0, `gid "wheel"`},
		{"-1", 0, 0, `uid "-1"`},
		{"4294967296", 0, 0, "not a number"},
	} {
		uid, gid, err := parseUser(tc.in, 7)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseUser(%q): %v, want error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || uid != tc.uid || gid != tc.gid {
			t.Errorf("parseUser(%q) = %d, %d, %v; want %d, %d", tc.in, uid, gid, err, tc.uid, tc.gid)
		}
	}
}

func TestMergeEnvReplacesInPlace(t *testing.T) {
	env, err := mergeEnv([]string{"PATH=/bin", "TERM=xterm"}, []string{"TERM=dumb", "FOO=a=b", "PATHX=1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PATH=/bin", "TERM=dumb", "FOO=a=b", "PATHX=1"}; !reflect.DeepEqual(env, want) {
		t.Errorf("mergeEnv = %q, want %q", env, want)
	}
	for _, bad := range []string{"NOEQUALS", "=value", "A=\x00"} {
		if _, err := mergeEnv(nil, []string{bad}); err == nil {
			t.Errorf("mergeEnv accepted %q", bad)
		}
	}
}

// TestAddCapsLeavesInheritableEmpty is the CVE-2022-29162 regression test:
// --cap must not put capabilities in the inheritable set.
func TestAddCapsLeavesInheritableEmpty(t *testing.T) {
	p := &configs.Process{Capabilities: &configs.Capabilities{
		Bounding: []int{unix.CAP_KILL}, Effective: []int{unix.CAP_KILL}, Permitted: []int{unix.CAP_KILL},
	}}
	if err := addCaps(p, []string{"CAP_SYS_ADMIN", "CAP_KILL"}); err != nil {
		t.Fatal(err)
	}
	c := p.Capabilities
	want := []int{unix.CAP_KILL, unix.CAP_SYS_ADMIN}
	for name, set := range map[string][]int{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
		if !reflect.DeepEqual(set, want) {
			t.Errorf("%s = %v, want %v", name, set, want)
		}
	}
	if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
		t.Errorf("inheritable %v, ambient %v; want both empty", c.Inheritable, c.Ambient)
	}

	// With an inheritable set already given, ambient follows (runc).
	p = &configs.Process{Capabilities: &configs.Capabilities{Inheritable: []int{unix.CAP_KILL}}}
	if err := addCaps(p, []string{"CAP_CHOWN"}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Capabilities.Ambient, []int{unix.CAP_CHOWN}) || !reflect.DeepEqual(p.Capabilities.Inheritable, []int{unix.CAP_KILL}) {
		t.Errorf("with inheritable: %+v", p.Capabilities)
	}

	if err := addCaps(&configs.Process{}, []string{"CAP_NOPE"}); err == nil || !strings.Contains(err.Error(), "unknown capability") {
		t.Errorf("unknown capability: %v", err)
	}
}

func TestSubCgroup(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		err  string
	}{
		{nil, "", ""},
		{[]string{"sub"}, "sub", ""},
		{[]string{"cpu,cpuacct:/a", "memory:/a"}, "/a", ""},
		{[]string{"/a", "pids:/a"}, "/a", ""},
		{[]string{"cpu:/a", "memory:/b"}, "", "different"},
		{[]string{"nosuchcontroller:/a"}, "", "unknown cgroup controller"},
		{[]string{"cpu:"}, "", "empty cgroup path"},
		{[]string{":/a"}, "", "empty controller"},
		{[]string{"name=systemd:/a"}, "/a", ""},
	} {
		got, err := subCgroup(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("subCgroup(%q): %q, %v; want error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("subCgroup(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCopyProcessSharesNothing(t *testing.T) {
	p := &configs.Process{Env: []string{"A=1"}, Capabilities: &configs.Capabilities{Bounding: []int{1}}, AdditionalGids: []uint32{5}}
	c := copyProcess(p)
	c.Env[0] = "B=2"
	c.Capabilities.Bounding[0] = 2
	c.AdditionalGids[0] = 6
	if p.Env[0] != "A=1" || p.Capabilities.Bounding[0] != 1 || p.AdditionalGids[0] != 5 {
		t.Errorf("copyProcess shares memory with the container's config: %+v", p)
	}
}
