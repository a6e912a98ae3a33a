package boltstore_test

import (
	"testing"

	"github.com/tilld/tilld/hq/storetest"
)

func TestAuditConformance(t *testing.T) { storetest.RunAudit(t, openStore) }
