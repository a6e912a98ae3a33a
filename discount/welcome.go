package discount

// The welcome offer: a discount or points on a card's first purchase, to
// win new customers (the seed texts' "привлечение новых покупателей").

// firstPurchase: a welcome rule applies to a card with no purchase before
// this one, as the till's account view of it counts them (Account.Sales:
// HQ's count plus the till's own sales not yet acknowledged). A till that
// cannot reach HQ sees a card it never saw as new.
func (e *engine) firstPurchase(*crule) (dropCode, string) {
	if e.acct.Sales > 0 {
		return dropOnce, "приветственное предложение: только на первую покупку по карте"
	}
	return dropNone, ""
}
