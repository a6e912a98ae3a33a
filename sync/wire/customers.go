package wire

import (
	"time"

	"github.com/tilld/tilld/money"
)

// PathAdminCustomers?phone=DIGITS finds card holders by the end of their
// phone number (GET, a CustomerSearch); PathAdminCustomers + card +
// PathAdminPurchases lists the card's sales and returns across stores (GET
// ?limit=N, a CardPurchases).
const PathAdminPurchases = "/purchases"

// CustomerSearch is the answer of a phone search: the holders found, by
// card, at most Limit of them (More says there were more).
type CustomerSearch struct {
	Customers []FoundCustomer `json:"customers"`
	Limit     int             `json:"limit"`
	More      bool            `json:"more"`
}

// FoundCustomer is a holder a search found: the card, the full name and the
// phone with all but its last four digits hidden.
type FoundCustomer struct {
	Card  string `json:"card"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// CardPurchases is a card's sales and returns across every store, newest
// first, at most Limit of them (More says there are older ones).
type CardPurchases struct {
	Card      string         `json:"card"`
	Purchases []CardPurchase `json:"purchases"`
	Limit     int            `json:"limit"`
	More      bool           `json:"more"`
}

// CardPurchase is one sale or return of a card. For a return, Total is minus
// the money handed back, Earned minus the points it took back and Spent minus
// the points it gave back, and Of names the sale it returns (its event id).
// Store is the sale's (its till's store); a return's is that of a sale of
// the same terminal in the list, else "".
type CardPurchase struct {
	At       time.Time    `json:"at"`
	Kind     string       `json:"kind"` // "sale" or "return"
	Store    string       `json:"store"`
	Terminal string       `json:"terminal"`
	Receipt  string       `json:"receipt"`
	Currency string       `json:"currency"`
	Total    money.Amount `json:"total"`
	Discount money.Amount `json:"discount"`
	Earned   int64        `json:"points_earned"`
	Spent    int64        `json:"points_spent"`
	Of       string       `json:"of,omitempty"`
}
