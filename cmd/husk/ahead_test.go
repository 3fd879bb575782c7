package main

import (
	"encoding/json"
	"testing"

	"github.com/husk-runtime/husk/specconv"
	"golang.org/x/sys/unix"
)

func TestConfigAheadFlags(t *testing.T) {
	const (
		ns     = `"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]`
		mounts = `"mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]}]`
		all    = unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS
	)
	for _, tc := range []struct {
		name, config string
		want         int
	}{
		{"runc's default", `{"ociVersion":"1.0.2","linux":{` + ns + `}}`, all},
		{"spaced, after other members", "{\n  \"process\": {\"args\": [\"sh\", \"-c\", \"x\\\"y\"], \"env\": []},\n  \"linux\": {\n    \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n    \"namespaces\": [ { \"type\" : \"network\" } , {\"type\": \"mount\"} ]\n  }\n}", unix.CLONE_NEWNET | unix.CLONE_NEWNS},
		{"no network namespace", `{"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}`, unix.CLONE_NEWPID | unix.CLONE_NEWNS},
		{"cgroup namespace left to the process", `{"linux":{"namespaces":[{"type":"cgroup"},{"type":"mount"}]}}`, unix.CLONE_NEWNS},
		{"no mount namespace", `{"linux":{"namespaces":[{"type":"pid"},{"type":"network"}]}}`, 0},
		{"network namespace joined", `{"linux":{"namespaces":[{"type":"network","path":"/run/netns/x"},{"type":"mount"}]}}`, 0},
		{"empty path is a new one", `{"linux":{"namespaces":[{"type":"network","path":""},{"type":"mount"}]}}`, unix.CLONE_NEWNET | unix.CLONE_NEWNS},
		{"another namespace joined", `{"linux":{"namespaces":[{"type":"mount"},{"type":"ipc","path":"/proc/1/ns/ipc"}]}}`, 0},
		{"user namespace", `{"linux":{"namespaces":[{"type":"mount"},{"type":"user"}]}}`, 0},
		{"time namespace", `{"linux":{"namespaces":[{"type":"time"},{"type":"mount"}]}}`, 0},
		{"unknown type", `{"linux":{"namespaces":[{"type":"mount"},{"type":"foo"}]}}`, 0},
		{"type twice", `{"linux":{"namespaces":[{"type":"mount"},{"type":"mount"}]}}`, 0},
		{"with mounts", `{` + mounts + `,"linux":{` + ns + `}}`, all},
		{"terminal", `{"process":{"terminal":true,"args":["sh"]},"linux":{` + ns + `}}`, 0},
		{"no terminal", `{"process":{"args":["sh"],"terminal":false},"linux":{` + ns + `}}`, all},
		{"only in an annotation", `{"annotations":{"linux":"{\"namespaces\":[{\"type\":\"mount\"}]}"},"linux":{}}`, 0},
		{"nested, not linux's", `{"x":{"linux":{` + ns + `}}}`, 0},
		{"escaped type", `{"linux":{"namespaces":[{"type":"mount"},{"type":"netw\u006frk"}]}}`, 0},
		{"cut short", `{"linux":{"namespaces":[{"type":"mount"}`, 0},
		{"not JSON", `linux namespaces mount`, 0},
		{"empty", ``, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := configAheadFlags([]byte(tc.config)); got != tc.want {
				t.Errorf("configAheadFlags(%s) = %#x, want %#x", tc.config, got, tc.want)
			}
		})
	}
}

// The guess on the spec `husk spec` writes, which most bundles start from,
// as it writes it (indented) and as a program marshals it (compact): with
// its terminal (the Go path), and without, as the benchmark runs it.
func TestConfigAheadFlagsOfExampleSpec(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		spec := specconv.Example()
		spec.Process.Terminal = terminal
		indented, err := json.MarshalIndent(spec, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		compact, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range [][]byte{indented, compact} {
			want := unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNS
			if terminal {
				want = 0
			}
			if got := configAheadFlags(data); got != want {
				t.Errorf("terminal %v: namespaces ahead %#x, want %#x:\n%s", terminal, got, want, data)
			}
		}
	}
}
