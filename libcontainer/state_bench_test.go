package libcontainer

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/specconv"
)

// benchState is the state of a container as containerd creates it: runc's
// default spec plus a cgroup path, resources, CRI annotations and
// containerd's default seccomp profile, which is most of the bytes.
func benchState(b *testing.B) *persistedState {
	b.Helper()
	spec := specconv.Example()
	spec.Process.Terminal = false
	spec.Process.Args = []string{"/usr/local/bin/app", "--listen", ":8080"}
	spec.Process.Env = append(spec.Process.Env,
		"HOSTNAME=app-7d9f8c6b5-x2x9q", "KUBERNETES_SERVICE_HOST=10.96.0.1",
		"KUBERNETES_SERVICE_PORT=443", "KUBERNETES_PORT=tcp://10.96.0.1:443")
	limit, shares, pids := int64(256<<20), uint64(512), int64(1024)
	spec.Linux.CgroupsPath = "/kubepods/burstable/pod0a1b2c3d/4f5e6d7c8b9a"
	spec.Linux.Resources = &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &limit},
		CPU:    &specs.LinuxCPU{Shares: &shares},
		Pids:   &specs.LinuxPids{Limit: &pids},
	}
	spec.Annotations = map[string]string{
		"io.kubernetes.cri.container-type": "container",
		"io.kubernetes.cri.container-name": "app",
		"io.kubernetes.cri.sandbox-id":     "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
		"io.kubernetes.cri.image-name":     "registry.example/app:1.2.3",
	}
	data, err := os.ReadFile("../seccomp/testdata/containerd-default.json")
	if err != nil {
		b.Fatal(err)
	}
	spec.Linux.Seccomp = &specs.LinuxSeccomp{}
	if err := json.Unmarshal(data, spec.Linux.Seccomp); err != nil {
		b.Fatal(err)
	}
	cfg, err := specconv.Convert(spec, specconv.Options{ID: "bench", Bundle: b.TempDir(), SkipRootfsCheck: true})
	if err != nil {
		b.Fatal(err)
	}
	start, _, err := procStartTime(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	return &persistedState{ID: "bench", Pid: os.Getpid(), StartTime: start, Created: time.Now().UTC(), Owner: "root", Config: cfg}
}

// BenchmarkStateSave is the state write at the end of every create: JSON
// encoding and the atomic write (temporary file, chmod, rename).
func BenchmarkStateSave(b *testing.B) {
	st := benchState(b)
	dir := b.TempDir()
	data, err := json.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := st.save(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStateLoad is the state read every later command starts with.
func BenchmarkStateLoad(b *testing.B) {
	st := benchState(b)
	dir := b.TempDir()
	if err := st.save(dir); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := loadState(dir)
		if err != nil {
			b.Fatal(err)
		}
		if got.ID != st.ID {
			b.Fatalf("loaded state of %q, want %q", got.ID, st.ID)
		}
	}
}
