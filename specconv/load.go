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
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/husk-runtime/husk/internal/rawfile"
)

// configFile is the name of the spec in a bundle, and the prefix of every
// error about its content.
const configFile = "config.json"

// LoadSpec reads and decodes <bundle>/config.json. It does not validate
// the content; Convert does. Errors start with "config.json: ", and a
// decoding error says the line and column of the fault.
func LoadSpec(bundle string) (*specs.Spec, error) {
	// 4 KiB holds the usual config (runc's default spec is ~2.5 KiB): two
	// reads instead of five from 512 bytes up.
	data, err := rawfile.ReadFileSize(filepath.Join(bundle, configFile), 4096)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, err)
	}
	if spec, ok := decodeSpecFast(data); ok {
		return spec, nil
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
