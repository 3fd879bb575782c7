package specconv

import (
	"encoding/json"
	"errors"

	"github.com/husk-runtime/husk/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DecodeProcess decodes a runtime-spec process object, as `husk exec
// --process` reads it. Like LoadSpec it does not validate the content
// (ConvertProcess does); a decoding error gives the line and column of the
// fault and, for a type mismatch, the field.
func DecodeProcess(data []byte) (*specs.Process, error) {
	if p, ok := decodeProcessFast(data); ok {
		return p, nil
	}
	var p specs.Process
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, describeJSONError(data, err)
	}
	return &p, nil
}

// ConvertProcess validates and converts a runtime-spec process object, for
// a process started in an existing container (`husk exec --process`). It
// applies exactly the checks and conversions of a config.json's process
// (capability and rlimit names, cwd, env, scheduler...), so an exec'd
// process cannot ask for anything a container's first one could not.
// Errors name the offending field, e.g. `process.cwd: missing`.
func ConvertProcess(p *specs.Process) (*configs.Process, error) {
	if p == nil {
		return nil, errors.New("process: missing")
	}
	return convertProcess(p)
}
