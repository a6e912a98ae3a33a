package discount

import _ "embed" // for Example

// Example is the example chain's rules file (example.toml): a 3 % club-card
// discount, Silver/Gold/Platinum cumulative tiers at 5 000, 10 000 and
// 15 000 ₽ of lifetime spend, and 1 point per 100 ₽ paid. The demo runs on it;
// rulesfile.Parse reads it.
//
//go:embed example.toml
var Example []byte
