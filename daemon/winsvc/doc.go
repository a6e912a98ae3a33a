// Package winsvc runs tilld as a Windows service and installs it: the service
// control manager's start and stop, restart on failure (recovery actions),
// the event log, and the ACLs of tilld's directories under %ProgramData%.
// Everything in it is Windows-only; on other systems the package is empty
// (systemd runs tilld there: packaging/tilld/tilld.service).
package winsvc
