package tests

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// consoleReceiver listens on a unix socket like containerd's shim and
// returns the first fd sent to it with SCM_RIGHTS, and the message body.
func consoleReceiver(t *testing.T) (string, <-chan *os.File, <-chan string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	files := make(chan *os.File, 1)
	names := make(chan string, 1)
	go func() {
		defer close(files)
		l.SetDeadline(time.Now().Add(30 * time.Second))
		conn, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		msg, fd, err := recvFd(conn)
		if err != nil {
			return
		}
		names <- string(msg)
		files <- os.NewFile(uintptr(fd), "pty-master")
	}()
	return path, files, names
}

// recvFd reads one message that carries exactly one fd (SCM_RIGHTS), as
// the runtime sends a pty master or a seccomp listener.
func recvFd(conn *net.UnixConn) ([]byte, int, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, -1, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, -1, fmt.Errorf("want one control message, got %d (%v)", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, -1, fmt.Errorf("want one fd, got %d (%v)", len(fds), err)
	}
	return buf[:n], fds[0], nil
}

// readUntil reads from the pty master until want appears or time runs out.
func readUntil(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var out bytes.Buffer
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 4096)
	for time.Now().Before(deadline) && !strings.Contains(out.String(), want) {
		f.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, _ := f.Read(buf)
		out.Write(buf[:n])
		if n == 0 && !strings.Contains(out.String(), want) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return out.String()
}

func isPtyMaster(f *os.File) bool {
	_, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPTN)
	return err == nil
}

// TestConsoleSocketGetsPtyMaster drives a terminal container the way
// containerd does: create --console-socket, receive the pty master, start,
// read the container's output from it.
func TestConsoleSocketGetsPtyMaster(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	sock, files, names := consoleReceiver(t)
	b.Spec.Process.Terminal = true
	id := b.newID()
	b.Spec.Process.Args = []string{"sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; stat -c %t:%T /dev/console; sleep 100"}
	b.writeSpec(id)
	b.mustHusk("create", "--bundle", b.Dir, "--console-socket", sock, id)
	master, ok := <-files
	if !ok {
		t.Fatal("no fd arrived on the console socket")
	}
	defer master.Close()
	if name := <-names; name == "" {
		t.Error("the console socket message had no body (runc sends the pty's name)")
	}
	if !isPtyMaster(master) {
		t.Fatal("the fd sent to the console socket is not a pty master")
	}
	b.mustHusk("start", id)
	out := readUntil(t, master, "88:")
	if !strings.Contains(out, "tty-ok") {
		t.Fatalf("container output through the pty: %q, want its stdio on the terminal", out)
	}
	// /dev/console is the pty's slave (a devpts node, major 136 = 0x88).
	if !strings.Contains(out, "88:") {
		t.Errorf("/dev/console is not the pty (output %q, want major 0x88)", out)
	}
	b.mustHusk("delete", "-f", id)
}

func TestExecConsoleSocket(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	id, _ := b.startDetached("sleep", "1000")
	sock, files, _ := consoleReceiver(t)
	b.mustHusk("exec", "-t", "-d", "--console-socket", sock, id, "sh", "-c", "test -t 0 && echo exec-tty-ok; sleep 100")
	master, ok := <-files
	if !ok {
		t.Fatal("no fd arrived on the console socket")
	}
	defer master.Close()
	if !isPtyMaster(master) {
		t.Fatal("the fd sent to the console socket is not a pty master")
	}
	if out := readUntil(t, master, "exec-tty-ok"); !strings.Contains(out, "exec-tty-ok") {
		t.Errorf("exec'd process output through the pty: %q", out)
	}
}
