// Package specconv reads an OCI runtime-spec config.json and turns it into
// the resolved configs.Config that libcontainer acts on, rejecting what
// husk cannot honour with errors that name the offending config field,
// e.g. `config.json: mounts[3].destination: "tmp" is not absolute`.
//
// It also holds the tables that `husk features` reports (mount options,
// namespaces, rlimits), so that what husk accepts and what it advertises
// come from the same place, and the default spec of `husk spec`.
package specconv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// configFile is the name of the spec in a bundle, and the prefix of every
// error about its content.
const configFile = "config.json"

// LoadSpec reads and decodes <bundle>/config.json. It does not validate
// the content; Convert does. Errors start with "config.json: ", and a
// decoding error says the line and column of the fault.
func LoadSpec(bundle string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(bundle, configFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, describeJSONError(data, err))
	}
	return &spec, nil
}

// describeJSONError adds the line and column to the two decoding errors
// that carry a byte offset, and the field path to a type mismatch.
func describeJSONError(data []byte, err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		// Offset counts the bytes read, the bad one included.
		line, col := position(data, syntaxErr.Offset-1)
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	case errors.As(err, &typeErr):
		line, col := position(data, typeErr.Offset)
		if typeErr.Field != "" {
			return fmt.Errorf("%s: line %d, column %d: cannot use JSON %s as %s", typeErr.Field, line, col, typeErr.Value, typeErr.Type)
		}
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	}
	return err
}

// position converts a byte offset into 1-based line and column numbers.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	if offset < 0 {
		offset = 0
	}
	before := data[:offset]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// warmJSON names every spec type a typical config has (process, root,
// mounts, hooks, linux with its resources, devices, seccomp...), with
// values of the right types.
const warmJSON = `{"ociVersion":"","process":{"terminal":false,"consoleSize":{"height":0,"width":0},
"user":{"uid":0,"gid":0,"umask":0,"additionalGids":[0]},"args":[""],"env":[""],"cwd":"",
"capabilities":{"bounding":[""],"effective":[""],"permitted":[""],"inheritable":[""],"ambient":[""]},
"rlimits":[{"type":"","hard":0,"soft":0}],"noNewPrivileges":false,"oomScoreAdj":0,
"scheduler":{"policy":""},"ioPriority":{"class":"","priority":0},"execCPUAffinity":{"initial":""}},
"root":{"path":"","readonly":false},"hostname":"","mounts":[{"destination":"","type":"","source":"","options":[""]}],
"hooks":{"prestart":[{"path":"","args":[""],"env":[""],"timeout":1}],"createRuntime":[],"poststart":[],"poststop":[]},
"annotations":{"a":""},"linux":{"uidMappings":[{"containerID":0,"hostID":0,"size":0}],"sysctl":{"a":""},
"resources":{"devices":[{"allow":false,"type":"","major":0,"minor":0,"access":""}],
"memory":{"limit":0,"swap":0},"cpu":{"shares":0,"quota":0,"period":0,"cpus":""},"pids":{"limit":0},
"blockIO":{"weight":0,"weightDevice":[{"major":0,"minor":0,"weight":0}],"throttleReadBpsDevice":[{"major":0,"minor":0,"rate":0}]},
"hugepageLimits":[{"pageSize":"","limit":0}],"network":{"classID":0,"priorities":[{"name":"","priority":0}]},"unified":{"a":""}},
"cgroupsPath":"","namespaces":[{"type":"","path":""}],"devices":[{"path":"","type":"","major":0,"minor":0,"fileMode":0,"uid":0,"gid":0}],
"seccomp":{"defaultAction":"","architectures":[""],"flags":[""],"syscalls":[{"names":[""],"action":"","errnoRet":0,"args":[{"index":0,"value":0,"valueTwo":0,"op":""}]}]},
"rootfsPropagation":"","maskedPaths":[""],"readonlyPaths":[""],"mountLabel":"","personality":{"domain":""},
"timeOffsets":{"a":{"secs":0,"nanosecs":0}}}}`

// Prewarm decodes a sample config once, so that encoding/json's first-use
// work for the spec's types (reflection over ~30 struct types and the page
// faults of its code, ~0.5 ms here) is done. husk calls it in the
// background as soon as a create starts, while the command line is parsed
// and the bundle read.
func Prewarm() {
	var s specs.Spec
	_ = json.Unmarshal([]byte(warmJSON), &s)
}
