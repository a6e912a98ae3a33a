//go:build !linux

package doctor

import (
	"errors"
	"fmt"
)

func statfs(dir string) (avail, total uint64, err error) {
	return 0, 0, fmt.Errorf("statfs %s: %w", dir, errors.ErrUnsupported)
}
