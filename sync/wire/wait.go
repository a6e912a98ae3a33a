package wire

// PathWait is a terminal's one long poll (GET): it answers as soon as HQ has
// a ruleset newer than ?rules=VERSION or accounts of cards the terminal has
// seen that changed after ?changes=POSITION (in the feed ?feed=ID, as for
// PathChanges), or when ?wait=SECONDS have passed, with a WaitAnswer. A
// terminal that does not follow one of the two leaves its parameter out.
// The health parameters of Health ride along, as they did on the rules
// poll. It takes the place of holding a long poll on PathRules and another
// on PathChanges (one connection per terminal instead of two); those stay
// for older tills.
const PathWait = "/v1/sync/wait"

// WaitAnswer is the answer of PathWait.
type WaitAnswer struct {
	// Rules is the version of the ruleset HQ publishes now (0: none yet).
	// When it is above the version the terminal has, the terminal fetches
	// it: GET PathRules?after=HAVE&wait=0.
	Rules int64 `json:"rules"`
	// Ruleset is that ruleset, when it is newer than the terminal's: the
	// terminal checks its signature as that of PathRules (HQ may leave it
	// out; the terminal then fetches it).
	Ruleset *RulesetAnswer `json:"ruleset,omitempty"`
	// Changes is the change feed from ?changes=: accounts (perhaps none) and
	// the position to ask after next. Absent when the terminal did not ask.
	Changes *ChangesAnswer `json:"changes,omitempty"`
}

// RulesetAnswer is a ruleset as HQ staff published it, with what PathRules
// carries in its headers.
type RulesetAnswer struct {
	Version   int64  `json:"version"`
	Hash      string `json:"hash"`      // sha256 of TOML, hex
	Signature []byte `json:"signature"` // HQ's Ed25519 signature of TOML (base64 in JSON)
	TOML      string `json:"toml"`      // the file, byte for byte
}
