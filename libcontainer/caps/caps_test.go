package caps

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseNameRoundTrip(t *testing.T) {
	names := Names()
	if len(names) != 41 {
		t.Fatalf("Names() has %d entries, want 41", len(names))
	}
	for i, name := range names {
		c, err := Parse(name)
		if err != nil {
			t.Fatalf("Parse(%q): %v", name, err)
		}
		if c != i {
			t.Errorf("Names()[%d] = %q parses to %d: not sorted by number", i, name, c)
		}
		if got := Name(c); got != name {
			t.Errorf("Name(%d) = %q, want %q", c, got, name)
		}
	}
}

func TestTableMatchesKernelNumbers(t *testing.T) {
	for name, want := range map[string]int{
		"CAP_CHOWN":              0,
		"CAP_SETPCAP":            8,
		"CAP_NET_BIND_SERVICE":   10,
		"CAP_SYS_ADMIN":          21,
		"CAP_AUDIT_READ":         37,
		"CAP_CHECKPOINT_RESTORE": 40,
	} {
		if got, err := Parse(name); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", name, got, err, want)
		}
	}
}

func TestParseRejectsInexactNames(t *testing.T) {
	for _, name := range []string{"", "CHOWN", "cap_chown", "CAP_CHOWN ", "CAP_FOO"} {
		_, err := Parse(name)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", name)
			continue
		}
		if want := "unknown capability " + strconv.Quote(name); err.Error() != want {
			t.Errorf("Parse(%q) error %q, want %q", name, err, want)
		}
	}
}

func TestNameOfUnknownNumber(t *testing.T) {
	if got := Name(63); got != "CAP_63" {
		t.Errorf("Name(63) = %q", got)
	}
	if got := Name(-1); got != "CAP_-1" {
		t.Errorf("Name(-1) = %q", got)
	}
}

func TestLastMatchesKernel(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Skipf("no cap_last_cap: %v", err)
	}
	want, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if got := Last(); got != want {
		t.Errorf("Last() = %d, want %d", got, want)
	}
}

func TestMaskSplitsWords(t *testing.T) {
	m, err := mask([]int{unix.CAP_CHOWN, unix.CAP_SYS_ADMIN, unix.CAP_BPF})
	if err != nil {
		t.Fatal(err)
	}
	if m[0] != 1|1<<21 || m[1] != 1<<(39-32) {
		t.Errorf("mask = %#x %#x", m[0], m[1])
	}
	if _, err := mask([]int{64}); err == nil {
		t.Error("mask accepted capability 64")
	}
}
