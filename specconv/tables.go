package specconv

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/husk-runtime/husk/libcontainer/configs"
)

// namespaceTypes lists the namespaces husk creates or joins, in the order
// `husk features` reports them.
var namespaceTypes = []configs.NamespaceType{
	configs.NEWCGROUP,
	configs.NEWIPC,
	configs.NEWNS,
	configs.NEWNET,
	configs.NEWPID,
	configs.NEWTIME,
	configs.NEWUSER,
	configs.NEWUTS,
}

// namespaceType maps a spec namespace type to husk's, reporting whether
// husk knows it.
func namespaceType(t specs.LinuxNamespaceType) (configs.NamespaceType, bool) {
	for _, known := range namespaceTypes {
		if string(known) == string(t) {
			return known, true
		}
	}
	return "", false
}

// Namespaces returns the runtime-spec names of the namespace types husk
// supports, as `husk features` reports them.
func Namespaces() []string {
	names := make([]string, len(namespaceTypes))
	for i, t := range namespaceTypes {
		names[i] = string(t)
	}
	return names
}

// rlimits lists the resource limits husk knows: their runtime-spec names
// and the unix RLIMIT_* numbers setrlimit(2) takes. It is the one list of
// them: Convert looks names up with Rlimit, RlimitNames lists them. A
// table, not a map: a map literal is built by code at every process start,
// this one is laid out by the compiler; a linear search over 16 entries is
// as fast.
var rlimits = []struct {
	name string
	res  int
}{
	{"RLIMIT_AS", unix.RLIMIT_AS},
	{"RLIMIT_CORE", unix.RLIMIT_CORE},
	{"RLIMIT_CPU", unix.RLIMIT_CPU},
	{"RLIMIT_DATA", unix.RLIMIT_DATA},
	{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE},
	{"RLIMIT_LOCKS", unix.RLIMIT_LOCKS},
	{"RLIMIT_MEMLOCK", unix.RLIMIT_MEMLOCK},
	{"RLIMIT_MSGQUEUE", unix.RLIMIT_MSGQUEUE},
	{"RLIMIT_NICE", unix.RLIMIT_NICE},
	{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE},
	{"RLIMIT_NPROC", unix.RLIMIT_NPROC},
	{"RLIMIT_RSS", unix.RLIMIT_RSS},
	{"RLIMIT_RTPRIO", unix.RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", unix.RLIMIT_RTTIME},
	{"RLIMIT_SIGPENDING", unix.RLIMIT_SIGPENDING},
	{"RLIMIT_STACK", unix.RLIMIT_STACK},
}

// Rlimit returns the unix RLIMIT_* number of the resource limit the
// runtime-spec calls name ("RLIMIT_NOFILE"), reporting whether husk knows
// it. Convert accepts exactly the names it knows.
func Rlimit(name string) (int, bool) {
	for _, r := range rlimits {
		if r.name == name {
			return r.res, true
		}
	}
	return 0, false
}

// RlimitNames returns, sorted, the runtime-spec names of the resource
// limits Rlimit knows; callers get their own copy.
func RlimitNames() []string {
	names := make([]string, len(rlimits))
	for i, r := range rlimits {
		names[i] = r.name
	}
	sort.Strings(names)
	return names
}

// hookNames are the runtime-spec hook kinds husk runs, for features.
var hookNames = []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}

// defaultDevices are the device nodes every container gets in /dev, as the
// runtime-spec requires; linux.devices entries with the same path replace
// them.
var defaultDevices = []configs.Device{
	{Path: "/dev/null", Type: 'c', Major: 1, Minor: 3, FileMode: 0o666},
	{Path: "/dev/zero", Type: 'c', Major: 1, Minor: 5, FileMode: 0o666},
	{Path: "/dev/full", Type: 'c', Major: 1, Minor: 7, FileMode: 0o666},
	{Path: "/dev/random", Type: 'c', Major: 1, Minor: 8, FileMode: 0o666},
	{Path: "/dev/urandom", Type: 'c', Major: 1, Minor: 9, FileMode: 0o666},
	{Path: "/dev/tty", Type: 'c', Major: 5, Minor: 0, FileMode: 0o666},
}
