package seccomp

// Runtime-side code: an on-disk cache of compiled programs.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cacheFormat versions the file layout, what Compile produces for a given
// profile and the key's encoding of the profile: bump it when any changes,
// and old entries are no longer found (their key differs).
const cacheFormat = 2

// cacheMagic opens every cache file.
var cacheMagic = [8]byte{'h', 'u', 's', 'k', 'b', 'p', 'f', 0}

// A cache file, all integers native endian (the cache is per host; the key
// covers GOARCH):
//
//	0  magic     [8]byte  cacheMagic
//	8  format    uint32   cacheFormat
//	12 flags     uint32   Program.Flags
//	16 notify    uint32   1 if Program.Notify
//	20 count     uint32   number of instructions
//	24 crc       uint32   CRC-32C of the rest of the file
//	28 reserved  uint32   0
//	32 key       [32]byte the cache key (also the file name)
//	64 count struct sock_filter records, 8 bytes each
const cacheHeaderSize = 64

// castagnoli is made on first use, not at package init: building the table
// costs ~0.2 ms, and every husk process (the container's init included)
// would pay it, whether or not it touches the cache.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// CompileCached is Compile with a cache in dir, which it creates (0700)
// if missing: each profile's program is kept in `<dir>/<key>.bpf`, the key
// being a SHA-256 of the cache format, the libseccomp version, GOARCH and
// the profile (canonicalProfile: all but the listener path and metadata,
// which do not change the program). A hit costs a file read, against ~17 ms for
// compiling containerd's default profile.
//
// A missing, short or corrupt file, or one for another key, is ignored and
// replaced: it is checked (magic, format, key, length, checksum), never
// trusted blindly. Files are written to a temporary name and renamed into
// place, so concurrent callers, in this process or others, see a whole
// file or none. Entries are never removed; there are as many as distinct
// profiles.
func CompileCached(s *specs.LinuxSeccomp, dir string) (*Program, error) {
	if s == nil {
		return nil, errors.New("compile seccomp filter: no seccomp config")
	}
	key, err := cacheKey(s)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, hex.EncodeToString(key[:])+".bpf")
	if b, err := os.ReadFile(path); err == nil {
		if p, ok := decodeCache(b, &key); ok {
			return p, nil
		}
	}
	p, err := Compile(s)
	if err != nil {
		return nil, err
	}
	if err := writeCache(dir, path, encodeCache(p, &key)); err != nil {
		return nil, err
	}
	return p, nil
}

// cacheKey identifies what Compile makes of s with this build of husk.
func cacheKey(s *specs.LinuxSeccomp) ([sha256.Size]byte, error) {
	js := canonicalProfile(s)
	major, minor, micro := libseccomp.GetLibraryVersion()
	h := sha256.New()
	var pre []byte
	pre = append(pre, "husk seccomp cache "...)
	pre = strconv.AppendInt(pre, cacheFormat, 10)
	pre = append(pre, "\nlibseccomp "...)
	pre = strconv.AppendUint(pre, uint64(major), 10)
	pre = append(pre, '.')
	pre = strconv.AppendUint(pre, uint64(minor), 10)
	pre = append(pre, '.')
	pre = strconv.AppendUint(pre, uint64(micro), 10)
	pre = append(pre, "\n"+runtime.GOARCH+"\n"...)
	h.Write(pre)
	h.Write(js)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key, nil
}

func encodeCache(p *Program, key *[sha256.Size]byte) []byte {
	b := make([]byte, cacheHeaderSize, cacheHeaderSize+len(p.Filter)*sockFilterSize)
	b = appendInsns(b, p.Filter)
	ne := binary.NativeEndian
	copy(b[0:], cacheMagic[:])
	ne.PutUint32(b[8:], cacheFormat)
	ne.PutUint32(b[12:], uint32(p.Flags))
	if p.Notify {
		ne.PutUint32(b[16:], 1)
	}
	ne.PutUint32(b[20:], uint32(len(p.Filter)))
	copy(b[32:], key[:])
	ne.PutUint32(b[24:], cacheCRC(b))
	return b
}

// cacheCRC is the checksum of cache file b: of all but its crc field.
func cacheCRC(b []byte) uint32 {
	tab := castagnoli()
	return crc32.Update(crc32.Checksum(b[:24], tab), tab, b[28:])
}

// decodeCache returns the program in b if b is a whole, intact cache file
// for key.
func decodeCache(b []byte, key *[sha256.Size]byte) (*Program, bool) {
	if len(b) < cacheHeaderSize || !bytes.Equal(b[0:8], cacheMagic[:]) {
		return nil, false
	}
	ne := binary.NativeEndian
	flags, notify, count := ne.Uint32(b[12:]), ne.Uint32(b[16:]), ne.Uint32(b[20:])
	body := b[cacheHeaderSize:]
	switch {
	case ne.Uint32(b[8:]) != cacheFormat,
		!bytes.Equal(b[32:64], key[:]),
		notify > 1,
		(notify == 1) != (flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0),
		uint64(len(body)) != uint64(count)*sockFilterSize,
		cacheCRC(b) != ne.Uint32(b[24:]):
		return nil, false
	}
	insns, err := decodeInsns(body)
	if err != nil {
		return nil, false
	}
	return &Program{Filter: insns, Flags: uint(flags), Notify: notify == 1}, true
}

// writeCache atomically puts b at path, in dir.
func writeCache(dir, path string, b []byte) (retErr error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("seccomp cache: create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*.bpf")
	if err != nil {
		return fmt.Errorf("seccomp cache: %w", err)
	}
	defer func() {
		if retErr != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// No fsync: after a crash a torn or empty file fails decodeCache's
	// checks and is recompiled.
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("seccomp cache: write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("seccomp cache: close %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("seccomp cache: rename %s to %s: %w", f.Name(), path, err)
	}
	return nil
}

// canonicalProfile encodes everything of s that makes the program, each
// string and list prefixed by its length so that no two profiles give the
// same bytes. By hand rather than with encoding/json: this runs on every
// create with a profile, and encoding/json's first use in a process costs
// ~0.4 ms; a test checks that every field counts.
func canonicalProfile(s *specs.LinuxSeccomp) []byte {
	b := make([]byte, 0, 4096)
	num := func(v uint64) { b = binary.AppendUvarint(b, v) }
	str := func(v string) {
		num(uint64(len(v)))
		b = append(b, v...)
	}
	opt := func(p *uint) {
		if p == nil {
			num(0)
			return
		}
		num(1)
		num(uint64(*p))
	}
	str(string(s.DefaultAction))
	opt(s.DefaultErrnoRet)
	num(uint64(len(s.Architectures)))
	for _, a := range s.Architectures {
		str(string(a))
	}
	num(uint64(len(s.Flags)))
	for _, f := range s.Flags {
		str(string(f))
	}
	num(uint64(len(s.Syscalls)))
	for _, sc := range s.Syscalls {
		num(uint64(len(sc.Names)))
		for _, n := range sc.Names {
			str(n)
		}
		str(string(sc.Action))
		opt(sc.ErrnoRet)
		num(uint64(len(sc.Args)))
		for _, a := range sc.Args {
			num(uint64(a.Index))
			num(a.Value)
			num(a.ValueTwo)
			str(string(a.Op))
		}
	}
	return b
}
