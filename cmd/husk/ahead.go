package main

// #include "ahead.h"
import "C"

import "unsafe"

// configWantsNetNS is the guess ahead.c makes from a bundle's config.json
// before the Go runtime starts (husk_config_wants_netns): whether to make
// the container's network namespace then. Only the tests call it from Go.
func configWantsNetNS(config []byte, cgroup2Host bool) bool {
	if len(config) == 0 {
		return false
	}
	v2 := C.int(0)
	if cgroup2Host {
		v2 = 1
	}
	return C.husk_config_wants_netns((*C.char)(unsafe.Pointer(&config[0])), C.size_t(len(config)), v2) != 0
}
