//go:build !linux

package discount_test

import "time"

// threadCPU is not measured here: measure reports wall-clock times only.
func threadCPU() (time.Duration, bool) { return 0, false }
