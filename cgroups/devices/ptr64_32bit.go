//go:build 386 || arm || mipsle

package devices

import "unsafe"

// ptr64 is a pointer in a 64-bit field of union bpf_attr. Keeping it an
// unsafe.Pointer (not a uintptr in a uint64) keeps the pointed-to memory
// alive and lets the runtime update it if a goroutine stack moves before
// the call.
// On a little-endian 32-bit host the pointer is the field's low half.
type ptr64 struct {
	p unsafe.Pointer
	_ uint32
}
