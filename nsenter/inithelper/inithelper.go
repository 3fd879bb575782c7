// Package inithelper holds husk-init, the container-side C code of package
// nsenter built as a small static program (nsenter/cmd/husk-init), when the
// build made one (`make husk`, with musl-gcc; see
// scripts/build-init-helper.sh, which writes its bytes into husk_init.h for
// image.c to compile in).
//
// libcontainer runs it, from a sealed memfd, for processes whose set-up is
// entirely a plan (nsenter/execplan.h) instead of re-executing the husk
// binary: that start costs a fraction of husk's (a ~95 KB binary with no
// libc start-up to speak of, against 6 MB and glibc's CPU probing) and a
// sealed copy of it costs ~0.03 ms, against ~0.3 ms for the read-only view
// of husk's own binary. A build without it (plain `go build`) works the
// same, only slower: libcontainer then re-executes husk.
//
// The bytes are C data, not a go:embed file, so that C code can make the
// sealed copy before the Go runtime has started: the husk command starts
// that on a thread of its own from its constructor (husk_init_seal_ahead in
// image.c), and the copy is ready when create or exec gets to it.
package inithelper

// #include "image.h"
import "C"

import (
	"syscall"
	"time"
)

// Present says whether this build has the helper.
func Present() bool { return C.husk_init_size() > 0 }

// SealingAhead says whether the sealed copy is being made ahead, before
// the Go runtime started (husk_init_seal_ahead).
func SealingAhead() bool { return C.husk_init_sealing_ahead() != 0 }

// Sealed returns an fd of a sealed memfd (close-on-exec, no write, no
// resize) holding the helper, which the caller owns: the copy made ahead
// (husk_init_seal_ahead) when there is one, with when it was made, else a
// new one (and a zero Ahead). It fails with ENOENT when the build has no
// helper.
func Sealed() (int, Ahead, error) {
	if !Present() {
		return -1, Ahead{}, syscall.ENOENT
	}
	var start, end C.longlong
	if fd := C.husk_init_take_sealed(&start, &end); fd >= 0 {
		return int(fd), Ahead{time.Unix(0, int64(start)), time.Unix(0, int64(end))}, nil
	}
	var cerr C.int
	fd := C.husk_init_memfd(&cerr)
	if fd < 0 {
		return -1, Ahead{}, syscall.Errno(cerr)
	}
	return int(fd), Ahead{}, nil
}

// Ahead is when the copy made ahead was asked for (husk_init_seal_ahead)
// and when its thread had made it.
type Ahead struct{ Start, End time.Time }
