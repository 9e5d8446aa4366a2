//go:build !linux

package guest

import "fmt"

func raiseOOMScore(int) (int, error) {
	return 0, fmt.Errorf("guest: the out-of-memory score: %w", ErrUnsupported)
}
