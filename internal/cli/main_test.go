package cli

import (
	"os"
	"testing"

	"github.com/stowaway-scanner/stowaway/internal/testdb"
)

// realDB is this test binary's DB of everything in ../shared/feeds:
// $STOWAWAY_TEST_DB when set (checked against the feeds), else built once
// and removed by TestMain.
var realDB testdb.DB

func TestMain(m *testing.M) { os.Exit(realDB.Run(m)) }
