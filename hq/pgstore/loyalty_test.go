package pgstore_test

import (
	"testing"

	"github.com/tilld/tilld/hq/storetest"
)

func TestLoyaltyConformance(t *testing.T) { storetest.RunLoyalty(t, openStore) }
