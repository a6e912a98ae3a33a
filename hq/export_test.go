package hq

import "time"

// HoldPasswordSlots takes every slot of the logins' password checks, as a
// flood of logins would, until release.
func HoldPasswordSlots() (release func()) {
	n := cap(passwordSlots)
	for range n {
		passwordSlots <- struct{}{}
	}
	return func() {
		for range n {
			<-passwordSlots
		}
	}
}

// SetPasswordWait sets how long a login waits for a slot, until restore.
func SetPasswordWait(d time.Duration) (restore func()) {
	old := passwordWait
	passwordWait = d
	return func() { passwordWait = old }
}
