package main

// #include "ahead.h"
import "C"

import "unsafe"

// configAheadFlags is the guess ahead.c makes from a bundle's config.json
// before the Go runtime starts (husk_config_ahead_flags): which namespaces
// to make then (CLONE_NEW* flags; 0: none). Only the tests call it from Go.
func configAheadFlags(config []byte) int {
	if len(config) == 0 {
		return 0
	}
	return int(C.husk_config_ahead_flags((*C.char)(unsafe.Pointer(&config[0])), C.size_t(len(config))))
}
