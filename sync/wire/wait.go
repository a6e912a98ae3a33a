package wire

// PathWait is a terminal's one long poll (GET): it answers as soon as HQ has
// a ruleset newer than ?rules=VERSION or accounts of cards the terminal has
// seen that changed after ?changes=POSITION, or when ?wait=SECONDS have
// passed, with a WaitAnswer. A terminal that does not follow one of the two
// leaves its parameter out. The health parameters of Health ride along, as
// they did on the rules poll. It takes the place of holding a long poll on
// PathRules and another on PathChanges (one connection per terminal instead
// of two); those stay for older tills.
const PathWait = "/v1/sync/wait"

// WaitAnswer is the answer of PathWait.
type WaitAnswer struct {
	// Rules is the version of the ruleset HQ publishes now (0: none yet).
	// When it is above the version the terminal has, the terminal fetches
	// it: GET PathRules?after=HAVE&wait=0.
	Rules int64 `json:"rules"`
	// Changes is the change feed from ?changes=: accounts (perhaps none) and
	// the position to ask after next. Absent when the terminal did not ask.
	Changes *ChangesAnswer `json:"changes,omitempty"`
}
