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
		want         bool
	}{
		{"new network namespace", `{"ociVersion":"1.0.2","linux":{` + ns + `}}`, true},
		{"spaced, after other members", "{\n  \"process\": {\"args\": [\"sh\", \"-c\", \"x\\\"y\"], \"env\": []},\n  \"linux\": {\n    \"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]},\n    \"namespaces\": [ { \"type\" : \"network\" } , {\"type\": \"mount\"} ]\n  }\n}", true},
		{"no network namespace", `{"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]}}`, false},
		{"network namespace joined", `{"linux":{"namespaces":[{"type":"network","path":"/run/netns/x"},{"type":"mount"}]}}`, false},
		{"empty path is a new one", `{"linux":{"namespaces":[{"type":"network","path":""}]}}`, true},
		{"another namespace joined", `{"linux":{"namespaces":[{"type":"network"},{"type":"ipc","path":"/proc/1/ns/ipc"}]}}`, false},
		{"user namespace", `{"linux":{"namespaces":[{"type":"network"},{"type":"user"}]}}`, false},
		{"time namespace", `{"linux":{"namespaces":[{"type":"time"},{"type":"network"}]}}`, false},
		{"with mounts", `{` + mounts + `,"linux":{` + ns + `}}`, true},
		{"terminal", `{"process":{"terminal":true,"args":["sh"]},"linux":{` + ns + `}}`, false},
		{"no terminal", `{"process":{"args":["sh"],"terminal":false},"linux":{` + ns + `}}`, true},
		{"only in an annotation", `{"annotations":{"linux":"{\"namespaces\":[{\"type\":\"network\"}]}"},"linux":{}}`, false},
		{"nested, not linux's", `{"x":{"linux":{` + ns + `}}}`, false},
		{"escaped type", `{"linux":{"namespaces":[{"type":"netw\u006frk"}]}}`, false},
		{"cut short", `{"linux":{"namespaces":[{"type":"network"}`, false},
		{"not JSON", `linux namespaces network`, false},
		{"empty", ``, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := configWantsNetNS([]byte(tc.config)); got != tc.want {
				t.Errorf("configWantsNetNS(%s) = %v, want %v", tc.config, got, tc.want)
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
			if got := configWantsNetNS(data); got == terminal {
				t.Errorf("terminal %v: network namespace ahead %v:\n%s", terminal, got, data)
			}
		}
	}
}
