package discount

import (
	"bytes"
	_ "embed" // for starter

	"github.com/tilld/tilld/money"
)

//go:embed starter.toml
var starter []byte

// Starter returns the rules file an HQ starts with (starter.toml): version 1
// in the currency, list prices, no discounts and no points, so that a till can
// sell before the chain publishes its own rules.
func Starter(currency money.Currency) []byte {
	return bytes.Replace(starter, []byte(`currency = "RUB"`), []byte(`currency = "`+currency.Code+`"`), 1)
}
