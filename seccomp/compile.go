package seccomp

// Runtime-side code: compiles a profile into a BPF program for Install.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Program is a compiled filter: classic BPF for seccomp(2), ready to
// install. The runtime compiles it (Compile, CompileCached) and sends it to
// the container's init in the config payload, so that init only makes the
// one seccomp(2) call (Install) and allocates nothing once it is in the
// container's memory cgroup.
//
// In JSON (MarshalJSON) the filter is one base64 string of raw instructions.
type Program struct {
	Filter []unix.SockFilter `json:"filter"` // JSON-serialisable: it travels to init in the config payload
	Flags  uint              `json:"flags"`  // SECCOMP_FILTER_FLAG_* for seccomp(2), incl. NEW_LISTENER when Notify
	Notify bool              `json:"notify"` // some rule uses SCMP_ACT_NOTIFY
}

// programJSON is Program on the wire: the filter as base64 of its raw
// struct sock_filter records, native endian (the runtime and init run on
// the same host). encoding/json takes ~0.8 ms to decode the default
// profile's ~1,000 instructions as objects, ~20 µs as base64.
type programJSON struct {
	Filter []byte `json:"filter"`
	Flags  uint   `json:"flags"`
	Notify bool   `json:"notify"`
}

// MarshalJSON encodes p with its filter as one base64 string of raw
// instructions, for init to decode quickly.
func (p Program) MarshalJSON() ([]byte, error) {
	raw := appendInsns(make([]byte, 0, len(p.Filter)*sockFilterSize), p.Filter)
	return json.Marshal(programJSON{Filter: raw, Flags: p.Flags, Notify: p.Notify})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (p *Program) UnmarshalJSON(b []byte) error {
	var pj programJSON
	if err := json.Unmarshal(b, &pj); err != nil {
		return fmt.Errorf("decode seccomp program: %w", err)
	}
	*p = Program{Flags: pj.Flags, Notify: pj.Notify}
	if len(pj.Filter) == 0 {
		return nil
	}
	insns, err := decodeInsns(pj.Filter)
	if err != nil {
		return fmt.Errorf("decode seccomp program: %w", err)
	}
	p.Filter = insns
	return nil
}

// sockFilterSize is the size of a struct sock_filter: code u16, jt u8,
// jf u8, k u32.
const sockFilterSize = 8

// Compile validates s and compiles it with libseccomp into the BPF program
// libseccomp itself would load: the same default action, architectures
// (the native one plus those listed, e.g. x86 and x32 next to x86_64, each
// checked by the program), errno values, and rules, syscalls unknown to
// this libseccomp being skipped. Flags gets the seccomp(2) bits of the
// profile's flags, plus NEW_LISTENER when a rule notifies; TSYNC is
// accepted but not passed (see Install).
//
// Compile runs in the runtime, never in init: building and generating the
// default profile's program costs ~17 ms. CompileCached avoids even that.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if s == nil {
		return nil, errors.New("compile seccomp filter: no seccomp config")
	}
	if err := Validate(s); err != nil {
		return nil, err
	}
	filter, notify, err := build(s)
	if err != nil {
		return nil, err
	}
	defer filter.Release()

	// libseccomp >= 2.6 can export to memory; 2.5 (Debian 12's) only to an
	// fd, so export into a memfd and read it back.
	fd, err := unix.MemfdCreate("husk-seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("compile seccomp filter: create memfd: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "husk-seccomp-bpf")
	defer mem.Close()
	if err := filter.ExportBPF(mem); err != nil {
		return nil, fmt.Errorf("compile seccomp filter: export bpf: %w", err)
	}
	st, err := mem.Stat()
	if err != nil {
		return nil, fmt.Errorf("compile seccomp filter: stat exported bpf: %w", err)
	}
	raw := make([]byte, st.Size())
	if _, err := mem.ReadAt(raw, 0); err != nil {
		return nil, fmt.Errorf("compile seccomp filter: read exported bpf: %w", err)
	}
	insns, err := decodeInsns(raw)
	if err != nil {
		return nil, fmt.Errorf("compile seccomp filter: %w", err)
	}

	p := &Program{Filter: insns, Notify: notify}
	for _, name := range s.Flags {
		_, bit, _ := lookupFlag(name) // Validate checked the name
		if bit == unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV && !notify {
			continue
		}
		p.Flags |= bit
	}
	if notify {
		p.Flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	return p, nil
}

// decodeInsns parses raw struct sock_filter records, native endian, as
// libseccomp exports them and the kernel reads them.
func decodeInsns(raw []byte) ([]unix.SockFilter, error) {
	if len(raw)%sockFilterSize != 0 {
		return nil, fmt.Errorf("bpf program of %d bytes is not whole instructions", len(raw))
	}
	n := len(raw) / sockFilterSize
	if n == 0 || n > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("bpf program has %d instructions, the kernel takes 1 to %d", n, unix.BPF_MAXINSNS)
	}
	insns := make([]unix.SockFilter, n)
	for i := range insns {
		b := raw[i*sockFilterSize:]
		insns[i] = unix.SockFilter{
			Code: binary.NativeEndian.Uint16(b[0:]),
			Jt:   b[2],
			Jf:   b[3],
			K:    binary.NativeEndian.Uint32(b[4:]),
		}
	}
	return insns, nil
}

// appendInsns is decodeInsns' inverse.
func appendInsns(b []byte, insns []unix.SockFilter) []byte {
	for _, in := range insns {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}
