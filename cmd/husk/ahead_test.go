package main

import (
	"encoding/json"
	"testing"

	"github.com/husk-runtime/husk/specconv"
)

func TestConfigWantsNetNS(t *testing.T) {
	const (
		ns     = `"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}]`
		mounts = `"mounts":[{"destination":"/proc","type":"proc","source":"proc"},{"destination":"/sys/fs/cgroup","type":"cgroup","source":"cgroup","options":["ro"]}]`
	)
	for _, tc := range []struct {
		name, config string
		v2, want     bool
	}{
		{"new network namespace", `{"ociVersion":"1.0.2","linux":{` + ns + `}}`, false, true},
		{"spaced, after other members", "{\n  \"process\": {\"args\": [\"sh\", \"-c\", \"x\\\"y\"], \"env\": []},\n  \"linux\": {\n    \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n    \"namespaces\": [ { \"type\" : \"network\" } , {\"type\": \"mount\"} ]\n  }\n}", false, true},
		{"no network namespace", `{"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}`, false, false},
		{"network namespace joined", `{"linux":{"namespaces":[{"type":"network","path":"/run/netns/x"},{"type":"mount"}]}}`, false, false},
		{"empty path is a new one", `{"linux":{"namespaces":[{"type":"network","path":""}]}}`, false, true},
		{"another namespace joined", `{"linux":{"namespaces":[{"type":"network"},{"type":"ipc","path":"/proc/1/ns/ipc"}]}}`, false, false},
		{"user namespace", `{"linux":{"namespaces":[{"type":"network"},{"type":"user"}]}}`, false, false},
		{"time namespace", `{"linux":{"namespaces":[{"type":"time"},{"type":"network"}]}}`, false, false},
		{"cgroup mount on cgroup v1", `{` + mounts + `,"linux":{` + ns + `}}`, false, true},
		{"cgroup mount on cgroup v2", `{` + mounts + `,"linux":{` + ns + `}}`, true, false},
		{"no cgroup mount on cgroup v2", `{"mounts":[{"destination":"/proc","type":"proc"}],"linux":{` + ns + `}}`, true, true},
		{"terminal", `{"process":{"terminal":true,"args":["sh"]},"linux":{` + ns + `}}`, false, false},
		{"no terminal", `{"process":{"args":["sh"],"terminal":false},"linux":{` + ns + `}}`, false, true},
		{"only in an annotation", `{"annotations":{"linux":"{\"namespaces\":[{\"type\":\"network\"}]}"},"linux":{}}`, false, false},
		{"nested, not linux's", `{"x":{"linux":{` + ns + `}}}`, false, false},
		{"escaped type", `{"linux":{"namespaces":[{"type":"netw\u006frk"}]}}`, false, false},
		{"cut short", `{"linux":{"namespaces":[{"type":"network"}`, false, false},
		{"not JSON", `linux namespaces network`, false, false},
		{"empty", ``, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := configWantsNetNS([]byte(tc.config), tc.v2); got != tc.want {
				t.Errorf("configWantsNetNS(%s, v2=%v) = %v, want %v", tc.config, tc.v2, got, tc.want)
			}
		})
	}
}

// The guess on the spec `husk spec` writes, which most bundles start from,
// as it writes it (indented) and as a program marshals it (compact): with
// its terminal (the Go path), and without, as the benchmark runs it.
func TestConfigWantsNetNSOfExampleSpec(t *testing.T) {
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
			if got := configWantsNetNS(data, false); got == terminal {
				t.Errorf("terminal %v, cgroup v1: network namespace ahead %v:\n%s", terminal, got, data)
			}
			// Its cgroup mount takes the Go path there.
			if configWantsNetNS(data, true) {
				t.Errorf("terminal %v, cgroup v2: a network namespace ahead:\n%s", terminal, data)
			}
		}
	}
}
