package files_test

import (
	"testing"

	"github.com/plexus-p2p/plexus/internal/testnet"
)

// TestMain fails the run if a test leaves goroutines behind.
func TestMain(m *testing.M) { testnet.VerifyNoLeaks(m) }
