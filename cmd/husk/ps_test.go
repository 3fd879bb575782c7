package main

import (
	"testing"
)

const psOutput = `UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         100       1  0 10:01 ?        00:00:00 sleep 1000
root        1000       1  0 10:01 ?        00:00:00 sh -c echo 100
`

func TestFilterPsOutputKeepsHeaderAndContainerPids(t *testing.T) {
	got, err := filterPsOutput(psOutput, []int{100})
	if err != nil {
		t.Fatal(err)
	}
	want := `UID          PID    PPID  C STIME TTY          TIME CMD
root         100       1  0 10:01 ?        00:00:00 sleep 1000
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFilterPsOutputFindsPidColumnAnywhere(t *testing.T) {
	out := "COMMAND PID\nsleep 7\nsh 8\n"
	got, err := filterPsOutput(out, []int{8})
	if err != nil {
		t.Fatal(err)
	}
	if got != "COMMAND PID\nsh 8\n" {
		t.Errorf("got %q", got)
	}
}

func TestFilterPsOutputWithoutPidColumnFails(t *testing.T) {
	if _, err := filterPsOutput("USER COMMAND\nroot init\n", []int{1}); err == nil {
		t.Error("want an error for ps output without a PID column")
	}
}
