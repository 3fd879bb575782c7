package fs

import (
	"encoding/binary"
	"errors"
	"path"
)

// AppendLayout appends what NewManager learnt from /proc/self/mountinfo
// (the hierarchies: mount point, root, controllers) to b, so that a later
// husk command rebuilds the Manager with NewManagerFromLayout without
// reading and parsing mountinfo again (~0.1 ms per command). runc keeps its
// cgroup paths in its state for the same reason; hierarchies are mounted
// at boot and do not move.
func (m *Manager) AppendLayout(b []byte) []byte {
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.dirs)))
	for _, d := range m.dirs {
		unified := byte(0)
		if d.h == m.unified {
			unified = 1
		}
		b = append(b, unified)
		str(d.h.mountpoint)
		str(d.h.root)
		b = binary.AppendUvarint(b, uint64(len(d.h.subsystems)))
		for _, s := range d.h.subsystems {
			str(s)
		}
	}
	return b
}

var errBadLayout = errors.New("corrupt cgroup layout")

// NewManagerFromLayout is NewManager for the hierarchies AppendLayout saved.
func NewManagerFromLayout(cgroupPath string, layout []byte) (*Manager, error) {
	if !path.IsAbs(cgroupPath) || path.Clean(cgroupPath) != cgroupPath || cgroupPath == "/" {
		return nil, errors.New("cgroup path " + cgroupPath + ": must be a clean absolute path below the root")
	}
	b := layout
	num := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	str := func() (string, bool) {
		n, ok := num()
		if !ok || n > uint64(len(b)) {
			return "", false
		}
		s := string(b[:n])
		b = b[n:]
		return s, true
	}
	n, ok := num()
	if !ok || n > uint64(len(b)) {
		return nil, errBadLayout
	}
	m := &Manager{path: cgroupPath, bySubsystem: make(map[string]string, 12)}
	for i := uint64(0); i < n; i++ {
		if len(b) == 0 || b[0] > 1 {
			return nil, errBadLayout
		}
		unified := b[0] == 1
		b = b[1:]
		h := &hierarchy{}
		var ok1, ok2 bool
		h.mountpoint, ok1 = str()
		h.root, ok2 = str()
		ns, ok3 := num()
		if !ok1 || !ok2 || !ok3 || ns > uint64(len(b)) || !path.IsAbs(h.mountpoint) || !path.IsAbs(h.root) {
			return nil, errBadLayout
		}
		for j := uint64(0); j < ns; j++ {
			s, ok := str()
			if !ok {
				return nil, errBadLayout
			}
			h.subsystems = append(h.subsystems, s)
		}
		d := h.dir(cgroupPath)
		m.dirs = append(m.dirs, dirEntry{h: h, dir: d})
		if unified {
			m.unified, m.unifiedDir = h, d
			continue
		}
		for _, s := range h.subsystems {
			m.bySubsystem[s] = d
		}
	}
	if len(b) != 0 {
		return nil, errBadLayout
	}
	return m, nil
}
