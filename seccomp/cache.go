package seccomp

// Runtime-side code: an on-disk cache of compiled programs.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/internal/rawfile"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cacheFormat versions the file layout, what Compile produces for a given
// profile and the key's encoding of the profile: bump it when any changes,
// and old entries are no longer found (their key differs).
const cacheFormat = 3

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
//	24 keylen    uint32   length of the key
//	28 reserved  uint32   0
//	32 sum       uint64   FNV-1a (64 bits) of the rest of the file
//	40 key       [keylen]byte the whole cache key (cacheKey.text)
//	40+keylen count struct sock_filter records, 8 bytes each
const cacheHeaderSize = 40

// cacheKey identifies what Compile makes of a profile with this build of
// husk. The file is named after a hash of text, but the whole text is kept
// in the file and compared on every hit: a hit never depends on the hash
// being collision-free, so a fast non-cryptographic one will do. (A
// SHA-256 brought in the crypto packages, whose initialisation every husk
// process paid, ~0.25 ms on the test machine.)
type cacheKey struct {
	text []byte
	name string // hex FNV-1a (128 bits) of text, the file name's stem
}

// CompileCached is Compile with a cache in dir, which it creates (0700)
// if missing: each profile's program is kept in `<dir>/<name>.bpf`, named
// after a hash of its key: the cache format, the libseccomp version, GOARCH
// and the profile (appendCanonicalProfile: all but the listener path and
// metadata, which do not change the program). A hit costs a file read,
// against ~17 ms for compiling containerd's default profile.
//
// A missing, short or corrupt file, or one for another key, is ignored and
// replaced: it is checked (magic, format, the whole key, length,
// checksum), never trusted blindly. Files are written to a temporary name
// and renamed into place, so concurrent callers, in this process or
// others, see a whole file or none. Entries are never removed; there are
// as many as distinct profiles.
func CompileCached(s *specs.LinuxSeccomp, dir string) (*Program, error) {
	if s == nil {
		return nil, errors.New("compile seccomp filter: no seccomp config")
	}
	key := newCacheKey(s)
	path := filepath.Join(dir, key.name+".bpf")
	if b, err := rawfile.ReadFile(path); err == nil {
		if p, ok := decodeCache(b, key); ok {
			return p, nil
		}
	}
	p, err := Compile(s)
	if err != nil {
		return nil, err
	}
	if err := writeCache(dir, path, encodeCache(p, key)); err != nil {
		return nil, err
	}
	return p, nil
}

// newCacheKey returns the cache key of s.
func newCacheKey(s *specs.LinuxSeccomp) cacheKey {
	major, minor, micro := libseccomp.GetLibraryVersion()
	b := make([]byte, 0, 4096)
	b = append(b, "husk seccomp cache "...)
	b = strconv.AppendInt(b, cacheFormat, 10)
	b = append(b, "\nlibseccomp "...)
	b = strconv.AppendUint(b, uint64(major), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(minor), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(micro), 10)
	b = append(b, "\n"+runtime.GOARCH+"\n"...)
	b = appendCanonicalProfile(b, s)
	h := fnv.New128a()
	h.Write(b)
	var sum [16]byte
	return cacheKey{text: b, name: hex.EncodeToString(h.Sum(sum[:0]))}
}

func encodeCache(p *Program, key cacheKey) []byte {
	off := cacheHeaderSize + len(key.text)
	b := make([]byte, off, off+len(p.Filter)*sockFilterSize)
	b = appendInsns(b, p.Filter)
	ne := binary.NativeEndian
	copy(b[0:], cacheMagic[:])
	ne.PutUint32(b[8:], cacheFormat)
	ne.PutUint32(b[12:], uint32(p.Flags))
	if p.Notify {
		ne.PutUint32(b[16:], 1)
	}
	ne.PutUint32(b[20:], uint32(len(p.Filter)))
	ne.PutUint32(b[24:], uint32(len(key.text)))
	copy(b[cacheHeaderSize:], key.text)
	ne.PutUint64(b[32:], cacheSum(b))
	return b
}

// cacheSum is the checksum of cache file b: of all but its sum field. It
// catches a torn or damaged file (writes are not fsynced), not an
// attacker: the cache directory is root's.
func cacheSum(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b[:32])
	h.Write(b[40:])
	return h.Sum64()
}

// decodeCache returns the program in b if b is a whole, intact cache file
// for key.
func decodeCache(b []byte, key cacheKey) (*Program, bool) {
	if len(b) < cacheHeaderSize || !bytes.Equal(b[0:8], cacheMagic[:]) {
		return nil, false
	}
	ne := binary.NativeEndian
	flags, notify, count, keyLen := ne.Uint32(b[12:]), ne.Uint32(b[16:]), ne.Uint32(b[20:]), ne.Uint32(b[24:])
	if ne.Uint32(b[8:]) != cacheFormat || uint64(keyLen) != uint64(len(key.text)) ||
		len(b)-cacheHeaderSize < len(key.text) {
		return nil, false
	}
	body := b[cacheHeaderSize+len(key.text):]
	switch {
	case !bytes.Equal(b[cacheHeaderSize:cacheHeaderSize+len(key.text)], key.text),
		notify > 1,
		(notify == 1) != (flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER != 0),
		uint64(len(body)) != uint64(count)*sockFilterSize,
		cacheSum(b) != ne.Uint64(b[32:]):
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

// appendCanonicalProfile appends to b everything of s that makes the
// program, each string and list prefixed by its length so that no two
// profiles give the same bytes. By hand rather than with encoding/json: this runs on every
// create with a profile, and encoding/json's first use in a process costs
// ~0.4 ms; a test checks that every field counts.
func appendCanonicalProfile(b []byte, s *specs.LinuxSeccomp) []byte {
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
