package main

// #include "ahead.h"
import "C"

import "unsafe"

// configWantsNetNS is the guess ahead.c makes from a bundle's config.json
// before the Go runtime starts (husk_config_wants_netns): whether to make
// the container's network namespace then. Only the tests call it from Go.
func configWantsNetNS(config []byte) bool {
	if len(config) == 0 {
		return false
	}
	return C.husk_config_wants_netns((*C.char)(unsafe.Pointer(&config[0])), C.size_t(len(config))) != 0
}
