package device

// StripAIM splits an AIM symbology identifier (ISO/IEC 15424: "]", a code
// character naming the symbology, a modifier character) from the start of
// barcode data, as scanners configured to send one put it there:
// StripAIM("]E02000000000008") is ("]E0", "2000000000008"). Common ones are
// ]E0 (EAN-13, UPC-A), ]E4 (EAN-8), ]C0 and ]C1 (Code 128, GS1-128), ]Q1 (QR
// code), ]d2 (GS1 DataMatrix). Data that does not start with an identifier
// comes back whole, with id "".
func StripAIM(data string) (id, rest string) {
	if len(data) < 3 || data[0] != ']' || !isAIMCode(data[1]) || !isAIMModifier(data[2]) {
		return "", data
	}
	return data[:3], data[3:]
}

// isAIMCode reports whether c can name a symbology: ISO/IEC 15424 uses letters.
func isAIMCode(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// isAIMModifier reports whether c can be a modifier: a digit or a letter
// (modifiers are read as hexadecimal or alphanumeric, depending on the symbology).
func isAIMModifier(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}
