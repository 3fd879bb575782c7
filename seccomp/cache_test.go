package seccomp

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// cachePath returns where CompileCached keeps s's program in dir.
func cachePath(t testing.TB, s *specs.LinuxSeccomp, dir string) string {
	t.Helper()
	return filepath.Join(dir, newCacheKey(s).name+".bpf")
}

// cacheFiles lists dir, failing on anything but cache entries (such as a
// leftover temporary file).
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".bpf") {
			t.Errorf("unexpected file %s in the cache", e.Name())
		}
		names = append(names, e.Name())
	}
	return names
}

func TestCompileCachedMissThenHit(t *testing.T) {
	s := loadProfile(t)
	dir := filepath.Join(t.TempDir(), "cache", "seccomp")
	want, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	miss, err := CompileCached(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !programsEqual(miss, want) {
		t.Error("cache miss returned another program than Compile")
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v, want 0700", st.Mode().Perm())
	}
	path := cachePath(t, s, dir)
	if names := cacheFiles(t, dir); len(names) != 1 || names[0] != filepath.Base(path) {
		t.Fatalf("cache holds %q, want only %s", names, filepath.Base(path))
	}
	hit, err := CompileCached(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !programsEqual(hit, want) {
		t.Error("cache hit returned another program than Compile")
	}

	// A hit comes from the file: plant a valid entry holding another
	// program and get it back.
	key := newCacheKey(s)
	planted := &Program{Filter: []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW}}}
	if err := os.WriteFile(path, encodeCache(planted, key), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := CompileCached(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !programsEqual(got, planted) {
		t.Error("cache hit did not read the cache file")
	}
}

func TestCompileCachedReplacesBadFile(t *testing.T) {
	s := loadProfile(t)
	dir := t.TempDir()
	want, err := CompileCached(s, dir)
	if err != nil {
		t.Fatal(err)
	}
	path := cachePath(t, s, dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
	otherDir := t.TempDir()
	if _, err := CompileCached(other, otherDir); err != nil {
		t.Fatal(err)
	}
	otherFile, err := os.ReadFile(cachePath(t, other, otherDir))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(off int) []byte {
		b := bytes.Clone(good)
		b[off] ^= 0x10
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short header", good[:cacheHeaderSize-1]},
		{"header only", good[:cacheHeaderSize]},
		{"truncated", good[:len(good)-sockFilterSize]},
		{"trailing bytes", append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0)},
		{"bad magic", flip(0)},
		{"other format", flip(8)},
		{"corrupt flags", flip(12)},
		{"corrupt key", flip(40)},
		{"corrupt instruction", flip(len(good) - 3)},
		// What a collision of the file names' hash would look like:
		// found under this profile's name, kept for another key.
		{"another profile's entry", otherFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := CompileCached(s, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !programsEqual(got, want) {
				t.Error("bad cache file was trusted")
			}
			now, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(now, good) {
				t.Error("bad cache file was not rewritten")
			}
		})
	}
}

func TestCompileCachedKeysByProfile(t *testing.T) {
	dir := t.TempDir()
	a := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno}}}
	b := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"getcwd"}, Action: specs.ActErrno, ErrnoRet: uintp(2)}}}
	pa, err := CompileCached(a, dir)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := CompileCached(b, dir)
	if err != nil {
		t.Fatal(err)
	}
	if programsEqual(pa, pb) {
		t.Error("profiles with different errnoRet compiled alike")
	}
	if n := len(cacheFiles(t, dir)); n != 2 {
		t.Errorf("%d cache files for 2 profiles", n)
	}
	// The listener's path and metadata do not change the program.
	c := *a
	c.ListenerPath, c.ListenerMetadata = "/run/agent.sock", "pod=x"
	if cachePath(t, &c, dir) != cachePath(t, a, dir) {
		t.Error("listener path and metadata change the cache key")
	}
}

func TestCompileCachedConcurrent(t *testing.T) {
	s := loadProfile(t)
	dir := t.TempDir()
	want, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	progs := make([]*Program, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { progs[i], errs[i] = CompileCached(s, dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !programsEqual(progs[i], want) {
			t.Errorf("goroutine %d got another program", i)
		}
	}
	if names := cacheFiles(t, dir); len(names) != 1 {
		t.Errorf("cache holds %q, want one entry", names)
	}
}

func TestCompileCachedUnwritableDir(t *testing.T) {
	// A regular file where the cache directory should be.
	dir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := CompileCached(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, dir)
	if err == nil || !strings.Contains(err.Error(), "seccomp cache: create "+dir) {
		t.Errorf("CompileCached = %v, want a cache directory error", err)
	}
}

// BenchmarkCompileCachedHit is what the runtime pays per container start
// for the default profile once it is cached.
func BenchmarkCompileCachedHit(b *testing.B) {
	s := loadProfile(b)
	dir := b.TempDir()
	if _, err := CompileCached(s, dir); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := CompileCached(s, dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheKey is the part of a hit spent on the key (encoding the
// profile and hashing it).
func BenchmarkCacheKey(b *testing.B) {
	s := loadProfile(b)
	for b.Loop() {
		if k := newCacheKey(s); k.name == "" {
			b.Fatal("empty cache key")
		}
	}
}

// Every field of the profile that makes the program changes the cache key,
// and only those: a field added to runtime-spec's LinuxSeccomp and not to
// appendCanonicalProfile would let two different profiles share a program.
func TestCacheKeyCoversEveryField(t *testing.T) {
	base := func() *specs.LinuxSeccomp {
		e1, e2 := uint(1), uint(2)
		return &specs.LinuxSeccomp{
			DefaultAction: "SCMP_ACT_ERRNO", DefaultErrnoRet: &e1,
			Architectures: []specs.Arch{"SCMP_ARCH_X86_64"}, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"},
			ListenerPath: "/l", ListenerMetadata: "m",
			Syscalls: []specs.LinuxSyscall{{
				Names: []string{"read"}, Action: "SCMP_ACT_ALLOW", ErrnoRet: &e2,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 2, ValueTwo: 3, Op: "SCMP_CMP_EQ"}},
			}},
		}
	}
	key := func(s *specs.LinuxSeccomp) string { return string(newCacheKey(s).text) }
	ref := key(base())
	// Walk every leaf of the profile by reflection and change it.
	var walk func(path string, v reflect.Value, change func(*specs.LinuxSeccomp, reflect.Value))
	checked := 0
	try := func(path string, set func(s *specs.LinuxSeccomp)) {
		s := base()
		set(s)
		same := key(s) == ref
		listener := strings.HasPrefix(path, ".ListenerPath") || strings.HasPrefix(path, ".ListenerMetadata")
		if same != listener {
			t.Errorf("changing %s: key changed %v, want %v", path, !same, !listener)
		}
		checked++
	}
	walk = func(path string, v reflect.Value, _ func(*specs.LinuxSeccomp, reflect.Value)) {
		switch v.Kind() {
		case reflect.Pointer:
			try(path+"=nil", func(s *specs.LinuxSeccomp) { fieldByPath(s, path).Set(reflect.Zero(v.Type())) })
			walk(path+"*", v.Elem(), nil)
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i), nil)
			}
		case reflect.Slice:
			try(path+"=extra", func(s *specs.LinuxSeccomp) {
				f := fieldByPath(s, path)
				f.Set(reflect.Append(f, reflect.New(f.Type().Elem()).Elem()))
			})
			for i := 0; i < v.Len(); i++ {
				walk(path+"["+strconv.Itoa(i)+"]", v.Index(i), nil)
			}
		case reflect.String:
			try(path, func(s *specs.LinuxSeccomp) { f := fieldByPath(s, path); f.SetString(f.String() + "x") })
		case reflect.Uint, reflect.Uint64, reflect.Uint32:
			try(path, func(s *specs.LinuxSeccomp) { f := fieldByPath(s, path); f.SetUint(f.Uint() + 1) })
		default:
			t.Fatalf("%s: unhandled kind %s", path, v.Kind())
		}
	}
	walk("", reflect.ValueOf(base()).Elem(), nil)
	if checked < 15 {
		t.Errorf("only %d changes tried", checked)
	}
}

// fieldByPath finds ".Syscalls[0].Args[0].Op" in s; a "*" after a name
// dereferences it, a trailing "=..." is ignored.
func fieldByPath(s *specs.LinuxSeccomp, path string) reflect.Value {
	if i := strings.IndexByte(path, '='); i >= 0 {
		path = path[:i]
	}
	v := reflect.ValueOf(s).Elem()
	for _, part := range strings.Split(strings.TrimPrefix(path, "."), ".") {
		deref := strings.HasSuffix(part, "*")
		part = strings.TrimSuffix(part, "*")
		name, idx, _ := strings.Cut(part, "[")
		v = v.FieldByName(name)
		for idx != "" {
			var n string
			n, idx, _ = strings.Cut(idx, "]")
			i, _ := strconv.Atoi(n)
			v = v.Index(i)
			idx = strings.TrimPrefix(idx, "[")
		}
		if deref {
			v = v.Elem()
		}
	}
	return v
}
