// Package e2e holds end-to-end tests: each starts real healthd binaries (through
// testutil/network) and drives them as a user would, with the CLI, REST and gRPC.
package e2e

import (
	"testing"

	"github.com/healthd-chain/healthd/testutil/network"
)

func TestMain(m *testing.M) { network.Main(m) }
