package main

import (
	"fmt"
	"io"
	"os"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// ttyRelay connects the caller's terminal to the container's pty master
// for a foreground `run` without --console-socket: the caller's terminal
// goes into raw mode (the container's line discipline does the editing and
// turns ^C into SIGINT), bytes are copied both ways, and the pty follows
// the caller's window size.
//
// All methods are no-ops on a nil relay, so callers need not check whether
// the container has a terminal.
type ttyRelay struct {
	master *os.File
	// current is the caller's terminal; nil when stdin is not one (piped
	// input), in which case there is no raw mode and no size to follow.
	current console.Console
	outDone chan struct{}
}

// newTTYRelay starts relaying between the caller and master.
func newTTYRelay(master *os.File) (*ttyRelay, error) {
	t := &ttyRelay{master: master, outDone: make(chan struct{})}
	if cur, err := console.ConsoleFromFile(os.Stdin); err == nil {
		if err := cur.SetRaw(); err != nil {
			return nil, fmt.Errorf("set terminal %s to raw mode: %w", os.Stdin.Name(), err)
		}
		t.current = cur
		t.resize()
	}
	go func() {
		_, _ = io.Copy(master, os.Stdin)
	}()
	go func() {
		// Ends with EIO once no process holds the slave side any more.
		_, _ = io.Copy(os.Stdout, master)
		close(t.outDone)
	}()
	return t, nil
}

// resize gives the container's pty the caller's window size.
func (t *ttyRelay) resize() {
	if t == nil || t.current == nil {
		return
	}
	ws, err := t.current.Size()
	if err != nil {
		logDebugf("get terminal size: %v", err)
		return
	}
	size := &unix.Winsize{Row: ws.Height, Col: ws.Width}
	rc, err := t.master.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if err := unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, size); err != nil {
			logDebugf("resize container terminal: %v", err)
		}
	})
}

// drain waits until the container's output has been copied out.
func (t *ttyRelay) drain() {
	if t == nil {
		return
	}
	<-t.outDone
}

// restore puts the caller's terminal back in the mode it was in.
func (t *ttyRelay) restore() {
	if t == nil || t.current == nil {
		return
	}
	if err := t.current.Reset(); err != nil {
		logWarnf("restore terminal: %v", err)
	}
}
