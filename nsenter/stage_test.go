package nsenter

import "testing"

// threadGone says at once that an ended thread (or none) is gone.
func TestThreadGoneForAnEndedThread(t *testing.T) {
	// A thread ID no thread of this process has: its own PID is the
	// main thread's, so one past the largest possible is free.
	if !threadGone(1 << 22) {
		t.Fatal("threadGone returned false for a thread that does not exist")
	}
}

// parseSetUp reads the stage's answer: the times of the plan and of the
// cgroup husk's constructor made, the directories and the plan; a
// "spec" line of another shape, or without husk's end of the socket, is
// no set-up.
func TestParseSetUp(t *testing.T) {
	msg := []byte("spec 10 20 5 8 2\n/a\x00/b\x00PLAN")
	a, why := parseSetUp(msg, 7)
	if a == nil {
		t.Fatalf("no set-up: %s", why)
	}
	if a.Sock != 7 || a.Start.UnixNano() != 10 || a.Planned.UnixNano() != 20 || a.Cgroup[0].UnixNano() != 5 ||
		a.Cgroup[1].UnixNano() != 8 || len(a.Dirs) != 2 || a.Dirs[0] != "/a" || a.Dirs[1] != "/b" ||
		string(a.Plan) != "PLAN" {
		t.Errorf("parsed %+v", a)
	}
	for _, bad := range []string{"spec 10 20 30 2\n/a\x00/b\x00", "spec 10 20 5 8 3\n/a\x00/b\x00", "spec 10 x 5 8 0\n"} {
		if a, _ := parseSetUp([]byte(bad), 7); a != nil {
			t.Errorf("%q parsed as %+v", bad, a)
		}
	}
	if a, _ := parseSetUp(msg, -1); a != nil {
		t.Error("a set-up without husk's end of the socket")
	}
	if a, why := parseSetUp([]byte("nospec the cgroup exists"), -1); a != nil || why != "the cgroup exists" {
		t.Errorf("nospec: %v %q", a, why)
	}
}
