package main

import (
	"fmt"
	"os"

	"github.com/husk-runtime/husk/libcontainer"
	_ "github.com/husk-runtime/husk/nsenter"
	"github.com/husk-runtime/husk/specconv"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
	tr := libcontainer.NewTrace()
	end := tr.Begin("parse")
	spec, err := specconv.LoadSpec("/tmp/hb")
	if err != nil {
		panic(err)
	}
	cfg, err := specconv.Convert(spec, specconv.Options{ID: os.Args[1], Bundle: "/tmp/hb"})
	if err != nil {
		panic(err)
	}
	end()
	c, err := libcontainer.Create("/tmp/hroot", os.Args[1], cfg, &libcontainer.CreateOpts{Stdout: os.Stdout, Stderr: os.Stderr, Trace: tr})
	if err != nil {
		panic(err)
	}
	end = tr.Begin("start")
	if err := c.Start(); err != nil {
		panic(err)
	}
	end()
	end = tr.Begin("wait")
	c.Wait()
	end()
	end = tr.Begin("delete")
	c.Delete(true)
	end()
	for _, e := range tr.Events {
		fmt.Printf("%-22s %-5s %8.0f %8.0f\n", e.Name, e.Process, e.StartUs, e.DurUs)
	}
}
