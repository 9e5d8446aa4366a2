package guest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

const oomScoreFile = "/proc/self/oom_score_adj"

func raiseOOMScore(adj int) (int, error) {
	b, err := os.ReadFile(oomScoreFile)
	if err != nil {
		return 0, fmt.Errorf("guest: %w", err)
	}
	cur, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil {
		return 0, fmt.Errorf("guest: %s holds %q: %w", oomScoreFile, bytes.TrimSpace(b), err)
	}
	if cur >= adj {
		return cur, nil
	}
	if err := os.WriteFile(oomScoreFile, []byte(strconv.Itoa(adj)), 0); err != nil {
		return cur, fmt.Errorf("guest: raise %s from %d to %d: %w", oomScoreFile, cur, adj, err)
	}
	return adj, nil
}
