package device

// Attribute keys of every log line this package writes, kept in one place so
// log queries do not depend on which function happened to log.
const (
	logKeyReader   = "reader"
	logKeyType     = "type"
	logKeySource   = "source"
	logKeyKind     = "kind"
	logKeyData     = "data"
	logKeyCard     = "card"
	logKeyProduct  = "product"
	logKeyScan     = "scan"
	logKeyErr      = "err"
	logKeyBackoff  = "backoff"
	logKeyDownFor  = "down_for"
	logKeyErrors   = "errors"
	logKeyPanic    = "panic"
	logKeyStack    = "stack"
	logKeyDebounce = "debounce"
)
