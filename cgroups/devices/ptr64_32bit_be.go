//go:build mips

package devices

import "unsafe"

// ptr64 is a pointer in a 64-bit field of union bpf_attr. Keeping it an
// unsafe.Pointer (not a uintptr in a uint64) keeps the pointed-to memory
// alive and lets the runtime update it if a goroutine stack moves before
// the call.
// On a big-endian 32-bit host the pointer is the field's low half, its
// second word.
type ptr64 struct {
	_ uint32
	p unsafe.Pointer
}
