// Package bench measures tilld across layers, from a card reader to the till
// screen's event stream: scan-to-event latency for the serial and PC/SC
// readers, and the CPU the daemon's readers burn while nothing happens. It has
// no code of its own, only tests and benchmarks:
//
//	go test ./bench -run '^$' -bench ScanToEvent -benchtime 200x
//	go test ./bench -run TestIdleCPU -v
//
// The path measured is the real one: a reader (socat pty, or pcscd with the
// vsmartcard-vpcd driver and a virtual card) → device.Manager →
// till.HandleScan → the local API's /v1/events server-sent event stream, read
// by an HTTP client.
package bench
