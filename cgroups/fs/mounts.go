package fs

import (
	"slices"
	"strings"
	"sync"

	"github.com/husk-runtime/husk/internal/selfmounts"
)

// hierarchy is one mounted cgroup hierarchy.
type hierarchy struct {
	// mountpoint is where the hierarchy is mounted.
	mountpoint string
	// root is the cgroup path of the mount's root directory: "/" unless a
	// sub-tree is bind-mounted (as inside a container).
	root string
	// subsystems are the controllers bound to it ("cpu", "cpuacct"...),
	// or the name of a named hierarchy ("name=systemd"); empty for cgroup2.
	subsystems []string
}

// dir returns the directory of the absolute cgroup path in h.
func (h *hierarchy) dir(path string) string {
	if h.root != "/" && (path == h.root || strings.HasPrefix(path, h.root+"/")) {
		path = path[len(h.root):]
	}
	if path == "/" {
		return h.mountpoint
	}
	return h.mountpoint + path
}

// mountTable lists the hierarchies of this process's mount namespace.
type mountTable struct {
	// v1 are the cgroup v1 hierarchies in mountinfo order.
	v1 []*hierarchy
	// unified is the cgroup2 mount (hybrid hosts), or nil.
	unified *hierarchy
	err     error
}

// v1Subsystems are the controllers a cgroup v1 mount's super options can
// name. Any other option ("rw", "xattr", "release_agent=...") is not one.
// A list, not a set: a map literal is built by code at every process
// start, a list of constants is laid out by the compiler.
var v1Subsystems = []string{
	"cpuset", "cpu", "cpuacct", "memory",
	"devices", "freezer", "net_cls", "blkio",
	"perf_event", "net_prio", "hugetlb", "pids",
	"rdma", "misc", "debug",
}

var (
	mountsOnce sync.Once
	mounts     mountTable
)

// cgroupMounts parses /proc/self/mountinfo once per process: cgroup
// hierarchies are mounted at boot and do not move, and re-reading the
// table (a hundred lines or more) for every container would cost more than
// the cgroup set-up itself.
func cgroupMounts() (*mountTable, error) {
	mountsOnce.Do(func() {
		data, err := selfmounts.Mountinfo()
		if err != nil {
			mounts.err = err
			return
		}
		mounts = parseMountinfo(string(data))
	})
	return &mounts, mounts.err
}

// parseMountinfo extracts the cgroup mounts from mountinfo text. A
// hierarchy mounted more than once is kept once, preferring a mount of its
// real root.
func parseMountinfo(data string) mountTable {
	var t mountTable
	seen := map[string]*hierarchy{}
	for len(data) > 0 {
		var line string
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, ""
		}
		// Cheap filter before splitting: most lines are not cgroups.
		if !strings.Contains(line, " - cgroup") {
			continue
		}
		sep := strings.Index(line, " - ")
		pre := strings.Fields(line[:sep])
		post := strings.Fields(line[sep+3:])
		if len(pre) < 5 || len(post) < 3 {
			continue
		}
		h := &hierarchy{root: unescape(pre[3]), mountpoint: unescape(pre[4])}
		switch post[0] {
		case "cgroup2":
			if t.unified == nil || (t.unified.root != "/" && h.root == "/") {
				t.unified = h
			}
		case "cgroup":
			for _, opt := range strings.Split(post[2], ",") {
				if slices.Contains(v1Subsystems, opt) || strings.HasPrefix(opt, "name=") {
					h.subsystems = append(h.subsystems, opt)
				}
			}
			if len(h.subsystems) == 0 {
				continue
			}
			key := strings.Join(h.subsystems, ",")
			if old, ok := seen[key]; ok {
				if old.root != "/" && h.root == "/" {
					*old = *h
				}
				continue
			}
			seen[key] = h
			t.v1 = append(t.v1, h)
		}
	}
	return t
}

// unescape decodes the octal escapes (\040 for a space) mountinfo uses.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
