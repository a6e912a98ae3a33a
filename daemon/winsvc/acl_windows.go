package winsvc

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// The ACLs of tilld's directories, in SDDL. Both are protected: nothing is
// inherited from %ProgramData%, whose ACL lets every user read and create.
// Files created inside inherit them (OICI), the ledger, its journal, the keys
// and the API token included.
const (
	// PrivateSDDL: SYSTEM (the service) and the Administrators, full
	// control; nobody else. For the data directory (ledger, keys, API token)
	// and the log directory.
	PrivateSDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
	// ConfigSDDL adds read for the local Users, so that tillctl finds the
	// data directory and the API address: the configuration holds no secret.
	ConfigSDDL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FRFX;;;BU)"
)

// SecureDir creates dir if missing and sets its ACL to sddl, replacing what it
// had; the files already inside get it too (by inheritance).
func SecureDir(dir, sddl string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("secure %s: %w", dir, err)
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("secure %s: %w", dir, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("secure %s: %w", dir, err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("secure %s: set its ACL: %w", dir, err)
	}
	return nil
}

// DirSDDL returns dir's ACL in SDDL (for checks and `tillctl doctor`).
func DirSDDL(dir string) (string, error) {
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return "", err
	}
	return sd.String(), nil
}
