package libcontainer

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// exitOffMainThread is the exit status of the re-executed test binary when
// its main goroutine left the main thread.
const exitOffMainThread = 3

// TestMain doubles as a stand-in for `husk init`: run with os.Args[1] ==
// "init", the package's init function has run exactly as it does in husk's
// binary, and stayOnMainThread reports whether that kept the main goroutine
// on the main thread.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		os.Exit(stayOnMainThread())
	}
	os.Exit(m.Run())
}

// stayOnMainThread gives the scheduler every chance to move the main
// goroutine to another thread (several Ps, busy goroutines, thousands of
// yields) and returns 0 if it is still on the thread-group leader, the
// thread that owns the parent-death signal, or exitOffMainThread.
func stayOnMainThread() int {
	runtime.GOMAXPROCS(4)
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
		}()
	}
	defer close(stop)
	for i := 0; i < 20000; i++ {
		runtime.Gosched()
		if unix.Gettid() != unix.Getpid() {
			return exitOffMainThread
		}
	}
	return 0
}

// A created container's init must stay on the main thread from the start
// of main.main: nsexec.c sets PR_SET_PDEATHSIG on that thread and only that
// thread can clear it. Off it, the container was SIGKILLed when `husk
// create` exited and `start` failed with "cannot start a container that has
// stopped" (seen rarely, under a slow qemu TCG guest).
func TestInitStaysOnMainThread(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "init").CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() == exitOffMainThread:
		t.Fatal("the main goroutine of `init` moved off the main thread: its parent-death signal could not be cleared")
	default:
		t.Fatalf("run %s init: %v\n%s", exe, err, out)
	}
}
