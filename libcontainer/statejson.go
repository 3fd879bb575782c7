package libcontainer

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// IndentedJSON returns s as `husk state` prints it: exactly what
// json.MarshalIndent(s, "", "  ") returns, written by hand. `state` is
// called often (by shims and scripts polling a container) and does
// nothing else that needs encoding/json, whose first use in a process
// costs ~0.3-0.7 ms on the test machine. A test compares the two.
func (s *State) IndentedJSON() []byte {
	b := make([]byte, 0, 256)
	b = append(b, "{\n  \"ociVersion\": "...)
	b = appendJSONStringHTML(b, s.Version)
	b = append(b, ",\n  \"id\": "...)
	b = appendJSONStringHTML(b, s.ID)
	b = append(b, ",\n  \"pid\": "...)
	b = strconv.AppendInt(b, int64(s.Pid), 10)
	b = append(b, ",\n  \"status\": "...)
	b = appendJSONStringHTML(b, string(s.Status))
	b = append(b, ",\n  \"bundle\": "...)
	b = appendJSONStringHTML(b, s.Bundle)
	b = append(b, ",\n  \"rootfs\": "...)
	b = appendJSONStringHTML(b, s.Rootfs)
	b = append(b, ",\n  \"created\": "...)
	b = appendJSONTime(b, s.Created)
	if len(s.Annotations) > 0 {
		b = append(b, ",\n  \"annotations\": {"...)
		keys := make([]string, 0, len(s.Annotations))
		for k := range s.Annotations {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    "...)
			b = appendJSONStringHTML(b, k)
			b = append(b, ": "...)
			b = appendJSONStringHTML(b, s.Annotations[k])
		}
		b = append(b, "\n  }"...)
	}
	b = append(b, ",\n  \"owner\": "...)
	b = appendJSONStringHTML(b, s.Owner)
	return append(b, "\n}"...)
}

// appendJSONTime appends t as time.Time's MarshalJSON does: RFC 3339 with
// nanoseconds, quoted. (It fails for years outside 0-9999, which a
// container's creation time is not.)
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONStringHTML appends s as a JSON string exactly as encoding/json
// writes it by default: '<', '>' and '&' escaped too, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped. (appendJSONString, for the sync
// messages husk alone reads, skips what only a browser cares about.)
func appendJSONStringHTML(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
