package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// logger writes husk's own log lines in the two formats runc's clients
// parse: logrus-style text (`time="..." level=error msg="..."`) and JSON
// lines (`{"level":"error","msg":"...","time":"..."}`), the format
// containerd's shim reads back from --log after a failed command.
//
// It is deliberately tiny: husk starts on every container start, and a
// logging framework would cost more start-up time than it saves code.
type logger struct {
	out   io.Writer
	json  bool
	debug bool
	// toStderr is true when out is the process's stderr; the fatal path
	// then does not print the error a second time.
	toStderr bool
}

// logOut is the process-wide logger, configured by the global flags in
// main's Before hook. Until then errors go to stderr as text.
var logOut = &logger{out: os.Stderr, toStderr: true}

// setupLog applies --log, --log-format and --debug.
func setupLog(path, format string, debug bool) error {
	l := &logger{out: os.Stderr, toStderr: true, debug: debug}
	switch format {
	case "text", "":
	case "json":
		l.json = true
	default:
		return fmt.Errorf("unknown log-format %q", format)
	}
	if path != "" {
		// Appended, never truncated: containerd's shim reuses one log file
		// for every command of a container and reads its last error line.
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log file %s: %w", path, err)
		}
		l.out = f
		l.toStderr = false
	}
	logOut = l
	return nil
}

// jsonEntry fixes the field order of a JSON log line.
type jsonEntry struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Time  string `json:"time"`
}

// write formats one line at level; write errors are ignored because there
// is nowhere left to report them.
func (l *logger) write(level, msg string) {
	now := time.Now().Format(time.RFC3339Nano)
	var line []byte
	if l.json {
		b, err := json.Marshal(jsonEntry{Level: level, Msg: msg, Time: now})
		if err != nil {
			return
		}
		line = append(b, '\n')
	} else {
		line = fmt.Appendf(nil, "time=%q level=%s msg=%s\n", now, level, quoteIfNeeded(msg))
	}
	_, _ = l.out.Write(line)
}

// quoteIfNeeded quotes a text-format value the way logrus does: bare when
// it only holds characters that cannot confuse a key=value parser.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '.' || r == '_' || r == '/' || r == '@' || r == '^' || r == '+') {
			return strconv.Quote(s)
		}
	}
	return s
}

// logErrorf logs at error level.
func logErrorf(format string, args ...any) {
	logOut.write("error", fmt.Sprintf(format, args...))
}

// logWarnf logs at warning level.
func logWarnf(format string, args ...any) {
	logOut.write("warning", fmt.Sprintf(format, args...))
}

// logDebugf logs at debug level when --debug is set.
func logDebugf(format string, args ...any) {
	if logOut.debug {
		logOut.write("debug", fmt.Sprintf(format, args...))
	}
}

// fatal logs err and exits with status 1. As runc does, the message also
// goes to plain stderr when the log is a file, because podman/conmon read
// errors from stderr while containerd reads them from the log file.
func fatal(err error) {
	logErrorf("%s", err)
	if !logOut.toStderr {
		fmt.Fprintln(os.Stderr, err)
	}
	exit(1)
}
