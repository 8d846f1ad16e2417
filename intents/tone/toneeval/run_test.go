package toneeval

import (
	"os"
	"testing"
)

// TestRunShared runs the whole command on the shared datasets when they sit beside the
// checkout (CI layout) and prints the figures; it checks the targets the design holds firm.
func TestRunShared(t *testing.T) {
	dir := "../../../../shared/datasets"
	if _, err := os.Stat(dir + "/vader/reference_scores"); err != nil {
		t.Skipf("shared datasets not found at %s: %v", dir, err)
	}
	if err := Command([]string{"--vader", dir + "/vader", "--goemotions", dir + "/goemotions"}, os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
}
