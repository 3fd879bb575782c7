// Package inithelper holds husk-init, the container-side C code of package
// nsenter built as a small static program (nsenter/cmd/husk-init), when the
// build made one (`make husk`, with musl-gcc; see
// scripts/build-init-helper.sh).
//
// libcontainer runs it, from a sealed memfd, for processes whose set-up is
// entirely a plan (nsenter/execplan.h) instead of re-executing the husk
// binary: that start costs a fraction of husk's (a 75 KB binary with no
// libc start-up to speak of, against 6 MB and glibc's CPU probing) and a
// sealed copy of it costs ~0.03 ms, against ~0.3 ms for the read-only view
// of husk's own binary. A build without it (plain `go build`) works the
// same, only slower: libcontainer then re-executes husk.
package inithelper

import (
	"embed"
	"io"
)

// The directory always holds .gitkeep, so that the pattern matches in a
// build without the helper.
//
//go:embed all:bin
var bin embed.FS

// Open returns the helper program, or nil when the build has none. The
// file reads from the binary's own data: copying it out costs no heap.
func Open() io.Reader {
	f, err := bin.Open("bin/husk-init")
	if err != nil {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Size() == 0 {
		f.Close()
		return nil
	}
	return f.(io.Reader)
}
