//go:build amd64 || arm64 || loong64 || mips64 || mips64le || ppc64 || ppc64le || riscv64 || s390x

package devices

import "unsafe"

// ptr64 is a pointer in a 64-bit field of union bpf_attr. Keeping it an
// unsafe.Pointer (not a uintptr in a uint64) keeps the pointed-to memory
// alive and lets the runtime update it if a goroutine stack moves before
// the call.
type ptr64 struct{ p unsafe.Pointer }
