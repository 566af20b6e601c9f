package auth

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// Limits on names and passwords.
const (
	// MaxNameBytes bounds a username after normalisation (UTF-8 bytes).
	MaxNameBytes = 64
	// MinPasswordChars is the shortest new password (characters, after
	// normalisation); NIST SP 800-63B's minimum for a chosen password.
	MinPasswordChars = 8
	// MaxPasswordBytes bounds a password (UTF-8 bytes): long passphrases
	// fit, and the work for one login stays bounded.
	MaxPasswordBytes = 1024
	// MaxLabelBytes bounds a token's name.
	MaxLabelBytes = 64
)

// NormalizeName returns the canonical form of a username (RFC 8265
// UsernameCaseMapped: width-folded, lower case, NFC; letters, digits and
// ASCII punctuation), or an error wrapping ErrInvalidName that says why.
// Two names are the same user exactly when their canonical forms are equal.
func NormalizeName(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(s) > 4*MaxNameBytes { // do not normalise megabytes
		return "", fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidName, len(s), MaxNameBytes)
	}
	n, err := precis.UsernameCaseMapped.String(s)
	if err != nil || n == "" {
		return "", fmt.Errorf("%w %s: use letters, digits and ASCII punctuation, without spaces or control characters", ErrInvalidName, quoteName(s))
	}
	if len(n) > MaxNameBytes {
		return "", fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidName, len(n), MaxNameBytes)
	}
	return n, nil
}

// quoteName quotes a rejected name for an error message: escaped, and cut
// to a readable length.
func quoteName(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		s = string([]rune(s)[:40]) + "..."
	}
	return fmt.Sprintf("%+q", s)
}

// normalizePassword returns the canonical form of a password (RFC 8265
// OpaqueString). A new password must also have MinPasswordChars characters.
// Errors wrap ErrInvalidPassword and never contain the password.
func normalizePassword(pw string, isNew bool) (string, error) {
	if pw == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidPassword)
	}
	if len(pw) > MaxPasswordBytes {
		return "", fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidPassword, len(pw), MaxPasswordBytes)
	}
	n, err := precis.OpaqueString.String(pw)
	if err != nil {
		return "", fmt.Errorf("%w: it contains control or unassigned characters", ErrInvalidPassword)
	}
	if isNew && utf8.RuneCountInString(n) < MinPasswordChars {
		return "", fmt.Errorf("%w: shorter than %d characters", ErrInvalidPassword, MinPasswordChars)
	}
	return n, nil
}

// checkLabel checks a token's name: optional, printable, at most MaxLabelBytes.
func checkLabel(s string) error {
	if len(s) > MaxLabelBytes {
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidLabel, len(s), MaxLabelBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidLabel)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w %+q: only printable characters", ErrInvalidLabel, s)
		}
	}
	return nil
}
