package cgfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func ptr(v int64) *int64 { return &v }

func TestDeviceRule(t *testing.T) {
	for _, c := range []struct {
		typ          string
		major, minor *int64
		access, want string
	}{
		{"", nil, nil, "", "a *:* rwm"},
		{"c", ptr(1), ptr(3), "rw", "c 1:3 rw"},
		{"b", ptr(8), ptr(-1), "m", "b 8:* m"},
	} {
		got, err := DeviceRule(c.typ, c.major, c.minor, c.access)
		if err != nil || got != c.want {
			t.Errorf("DeviceRule(%q, %v, %v, %q) = %q, %v; want %q", c.typ, c.major, c.minor, c.access, got, err, c.want)
		}
	}
	if _, err := DeviceRule("x", nil, nil, ""); err == nil {
		t.Error("type x accepted")
	}
	if _, err := DeviceRule("c", nil, nil, "rwx"); err == nil {
		t.Error("access rwx accepted")
	}
}

func TestChecks(t *testing.T) {
	for _, s := range []string{"2MB", "1GB", "64KB"} {
		if err := CheckHugePageSize(s); err != nil {
			t.Errorf("CheckHugePageSize(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "MB", "2XB", "2MB/..", "../2MB", "2 MB"} {
		if CheckHugePageSize(s) == nil {
			t.Errorf("CheckHugePageSize(%q) accepted", s)
		}
	}
	if err := CheckUnifiedKey("memory.high"); err != nil {
		t.Error(err)
	}
	for _, k := range []string{"", "..", "../x.y", "a/b.c", ".x", "memory"} {
		if CheckUnifiedKey(k) == nil {
			t.Errorf("CheckUnifiedKey(%q) accepted", k)
		}
	}
}

func TestWriteErrorNamesFileAndValue(t *testing.T) {
	dir := t.TempDir()
	err := Write(dir, "missing", "42")
	want := `write ` + dir + `/missing: "42": no such file or directory`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("errors.Is(%v, ENOENT) = false", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "f", "hello"); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(dir, "f"); err != nil || got != "hello" {
		t.Errorf("Read = %q, %v", got, err)
	}
}

func TestMkdirAndRemove(t *testing.T) {
	root := t.TempDir()
	created, err := Mkdir(root, root+"/a/b/c")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{root + "/a", root + "/a/b", root + "/a/b/c"}; !slices.Equal(created, want) {
		t.Errorf("created %q, want %q", created, want)
	}
	if created, err := Mkdir(root, root+"/a/b/c"); err != nil || created != nil {
		t.Errorf("second Mkdir = %q, %v", created, err)
	}
	if err := os.Mkdir(root+"/a/b/c/d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Remove(root + "/a/b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root + "/a/b"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a/b still there: %v", err)
	}
	if _, err := os.Stat(root + "/a"); err != nil {
		t.Errorf("Remove took the parent: %v", err)
	}
	if err := Remove(root + "/a/b"); err != nil {
		t.Errorf("Remove of a missing dir: %v", err)
	}
}

// TestEnableControllerWritesOnlyOwnedCgroups runs on a fake hierarchy
// (plain files): the controller is enabled top-down in the owned
// ancestors that lack it, and an existing ancestor that lacks it is an
// error naming its file, with nothing written anywhere.
func TestEnableControllerWritesOnlyOwnedCgroups(t *testing.T) {
	root := t.TempDir()
	mk := func(dir, subtree string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir+"/cgroup.subtree_control", []byte(subtree), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func(dir string) string {
		t.Helper()
		s, err := ReadTrim(dir, "cgroup.subtree_control")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mk(root, "hugetlb")
	mk(root+"/sys", "")
	mk(root+"/sys/a", "")
	mk(root+"/sys/a/b", "")
	mk(root+"/sys/a/b/c", "")

	err := EnableController(root, root+"/sys/a/b/c", "hugetlb", []string{root + "/sys/a", root + "/sys/a/b"})
	want := "hugetlb limits need the hugetlb controller: enable it in " + root + "/sys/cgroup.subtree_control"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	for _, d := range []string{root + "/sys", root + "/sys/a", root + "/sys/a/b"} {
		if got := read(d); got != "" {
			t.Errorf("%s written after a refusal: %q", d, got)
		}
	}

	if err := os.WriteFile(root+"/sys/cgroup.subtree_control", []byte("hugetlb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := EnableController(root, root+"/sys/a/b/c", "hugetlb", []string{root + "/sys/a", root + "/sys/a/b", root + "/sys/a/b/c"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root + "/sys/a", root + "/sys/a/b"} {
		if got := read(d); got != "+hugetlb" {
			t.Errorf("%s/cgroup.subtree_control = %q, want +hugetlb", d, got)
		}
	}
	if got := read(root + "/sys/a/b/c"); got != "" {
		t.Errorf("the leaf's subtree_control was written: %q", got)
	}
	lacking, err := LackingController(root, root+"/x", "memory")
	if err != nil || !slices.Equal(lacking, []string{root}) {
		t.Errorf("LackingController below the root = %q, %v", lacking, err)
	}
}
