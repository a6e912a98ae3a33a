package winsvc

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// envKey holds the system's environment, PATH included.
const envKey = `SYSTEM\CurrentControlSet\Control\Session Manager\Environment`

// AddToPath appends dir to the system PATH unless it is there already
// (`tillctl` then works in any new console). wixl, which builds the .msi, has
// no Environment element, so the service install does it.
func AddToPath(dir string) error {
	return editPath(func(parts []string) []string {
		for _, p := range parts {
			if samePath(p, dir) {
				return parts
			}
		}
		return append(parts, dir)
	})
}

// RemoveFromPath takes dir off the system PATH.
func RemoveFromPath(dir string) error {
	return editPath(func(parts []string) []string {
		kept := parts[:0]
		for _, p := range parts {
			if !samePath(p, dir) {
				kept = append(kept, p)
			}
		}
		return kept
	})
}

// SystemPath returns the system PATH as stored (unexpanded).
func SystemPath() (string, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, envKey, registry.QUERY_VALUE)
	if err != nil {
		return "", err
	}
	defer k.Close()
	v, _, err := k.GetStringValue("Path")
	return v, err
}

func editPath(edit func([]string) []string) error {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, envKey, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("system PATH: %w", err)
	}
	defer k.Close()
	old, typ, err := k.GetStringValue("Path")
	if err != nil {
		return fmt.Errorf("system PATH: %w", err)
	}
	var parts []string
	for p := range strings.SplitSeq(old, ";") {
		if p != "" {
			parts = append(parts, p)
		}
	}
	now := strings.Join(edit(parts), ";")
	if now == old {
		return nil
	}
	if typ == registry.EXPAND_SZ {
		err = k.SetExpandStringValue("Path", now)
	} else {
		err = k.SetStringValue("Path", now)
	}
	if err != nil {
		return fmt.Errorf("system PATH: %w", err)
	}
	return nil
}

func samePath(a, b string) bool {
	return strings.EqualFold(filepath.Clean(strings.TrimRight(a, `\`)), filepath.Clean(strings.TrimRight(b, `\`)))
}
